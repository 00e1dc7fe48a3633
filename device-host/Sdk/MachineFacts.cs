namespace SplitEmu.DeviceHost.Sdk;

/// <summary>What platform devices must know about their machine: CMOS and fw_cfg report the RAM size.</summary>
/// <param name="RamBytes">Bytes of guest RAM, starting at guest-physical 0.</param>
/// <param name="CpuCount">Number of CPUs.</param>
public sealed record MachineFacts(ulong RamBytes, int CpuCount = 1);
