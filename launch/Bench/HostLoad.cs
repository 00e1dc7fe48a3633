namespace SplitEmu.Launch.Bench;

/// <summary>What else the machine is doing while a benchmark runs; every benchmark prints it beside its numbers.</summary>
internal static class HostLoad
{
    /// <summary>The 1, 5 and 15 minute load averages (other work competes for the cores: read the numbers with it).</summary>
    public static string Average()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
