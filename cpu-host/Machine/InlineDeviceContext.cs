using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.CpuHost.Machine;

/// <summary>The machine as an inline device sees it: direct calls into the CPU process.</summary>
internal sealed class InlineDeviceContext(DeviceConfig config, VirtualMachine machine, IDeviceOutputSink output) : IDeviceContext
{
    /// <summary>A deadline armed while the device was still being constructed (before <see cref="Owner"/> existed).</summary>
    private long? _earlyDeadline;

    /// <summary>The device this context serves (set right after the device is created; arms an early deadline then).</summary>
    public InlineDevice? Owner
    {
        get;
        set
        {
            field = value;
            if (value is not null && _earlyDeadline is long deadline)
            {
                _earlyDeadline = null;
                machine.Timers.Arm(value, deadline);
            }
        }
    }

    public string DeviceId => config.Id;

    public MachineFacts Machine { get; } = new(machine.Ram.Size, machine.VcpuCount);

    public long NowNanoseconds => machine.Clock.NowNanoseconds;

    public void SetIrq(bool asserted)
    {
        if (config.Irq is int line)
        {
            SetIrqLine(line, asserted);
        }
    }

    public void SetIrqLine(int line, bool asserted) => machine.SetInterruptLine(line, asserted);

    public void RequestMachineExit(int exitCode, ulong guestValue) => machine.RequestGuestExit(exitCode, guestValue);

    public void RequestMachineReset() => machine.RequestReset($"device '{config.Id}'");

    public void Output(ReadOnlySpan<byte> data) => output.Write(config.Id, data);

    public bool OutputBackedUp => output.IsBackedUp(config.Id);

    /// <summary>The handle the map gave the device at plug (null before: a change asked for then is refused).</summary>
    public DeviceHandle? Handle { get; set; }

    public void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0) =>
        machine.Devices.RequestChange(Handle, region, kind, newBase); // before the plug: refused and counted

    public void SetTimer(long deadlineNanoseconds)
    {
        if (Owner is { } device)
        {
            machine.Timers.Arm(device, deadlineNanoseconds);
        }
        else
        {
            _earlyDeadline = deadlineNanoseconds; // the constructor armed it (a PIT's power-on count)
        }
    }

    public void SetPulseTrain(int line, PulseTrain train) => machine.PulseTrains.Set(config.Id, line, train);

    public void CancelPulseTrain(int line) => machine.PulseTrains.Cancel(config.Id, line);

    public void CancelTimer()
    {
        _earlyDeadline = null;
        if (Owner is { } device)
        {
            machine.Timers.Disarm(device);
        }
    }

    /// <summary>Guest RAM within the windows the CPU process grants (the same a device process gets).</summary>
    private readonly GuestMemoryWindow _guestMemory = machine.GuestMemoryWindow();

    public bool DmaRead(ulong address, Span<byte> destination) => _guestMemory.TryRead(address, destination);

    public bool DmaWrite(ulong address, ReadOnlySpan<byte> source)
    {
        if (!_guestMemory.TryWrite(address, source))
        {
            return false;
        }

        machine.InvalidateCode(address, source.Length);
        return true;
    }
}
