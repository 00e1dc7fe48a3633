namespace SplitEmu.Shared.Processes;

/// <summary>
/// Whether this process is confined by the device sandbox (docs/processes.md, "The sandbox"): set once, by the
/// sandbox, after its last step succeeded. A process-wide fact, so a device model may ask it without knowing its
/// host: the test device's harmful sandbox probes run only in a confined process.
/// </summary>
public static class ProcessConfinement
{
    /// <summary>True once the sandbox has locked this process down (irreversible).</summary>
    public static bool IsConfined { get; private set; }

    /// <summary>Records that the sandbox locked this process down.</summary>
    public static void MarkConfined() => IsConfined = true;
}
