using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Platform;
using SplitEmu.DeviceHost.Devices;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The machine's APICs (docs/smp.md): a local APIC per vCPU on one APIC bus when the machine has them
/// (<see cref="DeviceCatalog.HasLocalApics"/>), the profile's I/O APIC on that bus, and the 8259 pair behind the
/// bootstrap processor's LINT0 (virtual wire), so legacy 8259 interrupts keep working until the guest switches.
/// </summary>
public sealed partial class VirtualMachine
{
    /// <summary>The id the local APICs' register page is plugged under (never a profile id: those have no '.').</summary>
    private const string LocalApicDeviceId = "cpu.lapic";

    /// <summary>The APIC bus with every vCPU's local APIC, or null on a machine without local APICs.</summary>
    private ApicBus? _apicBus;

    /// <summary>The profile's I/O APIC, or null.</summary>
    private IoApic? _ioApic;

    /// <summary>
    /// Gives every vCPU its local APIC as its interrupt source, CPUID's APIC bit and IA32_APIC_BASE, and maps the
    /// register page each vCPU sees as its own APIC (inline: an access reaches the APIC of the vCPU that makes it).
    /// </summary>
    private void CreateLocalApics()
    {
        if (!DeviceCatalog.HasLocalApics(_vcpus.Length, _profile.Devices))
        {
            return;
        }

        ApicBus bus = new(() => _clock.Clock.NowNanoseconds); // APIC timers count machine time, as the 8254 does
        foreach (Vcpu vcpu in _vcpus)
        {
            LocalApic apic = bus.AddLocalApic(vcpu);
            vcpu.Apic = apic;
            vcpu.Cpu.InterruptController = apic;
            vcpu.Cpu.LocalApic = apic;
            if (!vcpu.IsBootstrap)
            {
                // The bootstrap processor's check-in does this among the machine's work (OnProgress).
                vcpu.Cpu.Progressed = () => StopIfApicTimerDue(vcpu);
            }
        }

        Devices.Plug(LocalApicDeviceId, bus.Regions, new InlineDevice(LocalApicDeviceId, bus));
        _apicBus = bus;
    }

    /// <summary>Ends <paramref name="vcpu"/>'s run slice when its APIC timer is due, so its loop raises the interrupt.</summary>
    private void StopIfApicTimerDue(Vcpu vcpu)
    {
        if (vcpu.ApicTimerDeadline <= _clock.Clock.NowNanoseconds)
        {
            vcpu.Cpu.RequestStop();
        }
    }

    /// <summary>The profile's I/O APIC, on the APIC bus; the ISA lines reach it besides the 8259s.</summary>
    IoApic IPlatformHost.AttachIoApic()
    {
        // HasLocalApics is true for every machine with an ioapic device, so the bus exists.
        ApicBus bus = _apicBus ?? throw new InvalidOperationException("an I/O APIC needs the machine's local APICs");
        _ioApic = new IoApic(bus, IoApicId);
        return _ioApic;
    }

    /// <summary>
    /// The MP tables of a directly booted kernel (firmware writes its own): every vCPU, the I/O APIC and its ISA
    /// lines, the ACPI SCI as level-triggered.
    /// </summary>
    private void WriteMpTable()
    {
        List<int> levelTriggered = [];
        if (_profile.Devices.FirstOrDefault(d => d.Type == DeviceHost.Devices.Power.AcpiPowerManagement.TypeName) is { } pm)
        {
            levelTriggered.Add(pm.Irq ?? DeviceHost.Devices.Power.AcpiPowerManagement.DefaultSci);
        }

        bool hasPci = _profile.Devices.Any(d => d.Type == DeviceCatalog.I440Fx.Name);
        MpTable.Write(_ram, _vcpus.Length, X86Cpu.Signature, X86Cpu.FeatureFlagsWithApic, hasPci, _ioApic is not null, levelTriggered);
    }

    /// <summary>The APICs as the ACPI MADT describes them, or null on a machine without local APICs.</summary>
    private MadtDescription? DescribeApics() => _apicBus is null
        ? null
        : new MadtDescription(_vcpus.Length, _ioApic is null ? null : IoApicId, Pic is not null);

    /// <summary>The I/O APIC's ID: after the processors' (as SeaBIOS numbers it; MpTable does the same).</summary>
    private byte IoApicId => (byte)_vcpus.Length;

    /// <summary>The APIC bus, when the machine has local APICs (for tests and the monitor).</summary>
    internal ApicBus? ApicBus => _apicBus;

    /// <summary>The I/O APIC, when the profile has one.</summary>
    public IoApic? IoApic => _ioApic;
}
