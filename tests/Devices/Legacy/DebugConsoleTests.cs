using SplitEmu.DeviceHost.Devices.Debug;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Legacy;

public sealed class DebugConsoleTests
{
    private readonly FakeDeviceContext _context = new();
    private readonly DebugConsole _console;

    public DebugConsoleTests()
    {
        _console = new DebugConsole(new DeviceConfig { Type = DebugConsole.TypeName }, _context);
    }

    [Fact]
    public void Writes_AppendTheirLowByteToTheOutput()
    {
        _console.Write(0, 0, 1, 'O');
        _console.Write(0, 0, 1, 0x4B);

        Assert.Equal("OK"u8.ToArray(), _context.OutputBytes);
    }

    [Fact]
    public void Read_ReturnsE9SoFirmwareCanDetectThePort() => Assert.Equal(0xE9UL, _console.Read(0, 0, 1));

    [Fact]
    public void Region_IsOneBytePortAt402ByDefault_WithPostedWrites() =>
        Assert.Equal(new DeviceRegionInfo("debugcon", AddressSpaceKind.Io, 0x402, 1, PostedWrites: true, MinAccessSize: 1, MaxAccessSize: 1), Assert.Single(_console.Regions));

    [Fact]
    public void Region_FollowsTheProfilesPort() =>
        Assert.Equal(0xE9UL, new DebugConsole(new DeviceConfig { Type = DebugConsole.TypeName, Io = 0xE9 }, _context).Regions[0].Base);
}
