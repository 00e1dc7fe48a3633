namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// What the ACPI MADT describes (<see cref="AcpiTables"/>): the machine's local APICs, its I/O APIC and the 8259s.
/// </summary>
/// <param name="Cpus">vCPUs; processor n has APIC ID n.</param>
/// <param name="IoApicId">The I/O APIC's ID, or null when the machine has none.</param>
/// <param name="HasPic">Whether the dual 8259 is present (MADT flag PCAT_COMPAT: the OS masks it when it uses the I/O APIC).</param>
public sealed record MadtDescription(int Cpus, byte? IoApicId, bool HasPic);
