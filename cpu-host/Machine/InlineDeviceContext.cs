using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.CpuHost.Machine;

/// <summary>The machine as an inline device sees it: direct calls into the CPU process.</summary>
internal sealed class InlineDeviceContext(DeviceConfig config, VirtualMachine machine, IDeviceOutputSink output) : IDeviceContext
{
    public string DeviceId => config.Id;

    public void SetIrq(bool asserted)
    {
        if (config.Irq is int line)
        {
            machine.Interrupts.SetLevel(line, asserted);
        }
    }

    public void RequestMachineExit(int exitCode, ulong guestValue) => machine.RequestGuestExit(exitCode, guestValue);

    public void Output(ReadOnlySpan<byte> data) => output.Write(config.Id, data);

    public void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0) =>
        machine.Devices.RequestChange(config.Id, region, kind, newBase);
}
