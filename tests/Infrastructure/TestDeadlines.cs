using System.Globalization;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// The one place the suite's deadlines come from. A deadline is how long a test waits for something that
/// must happen (a process to start, a machine to stop), never a measurement: a loaded machine must make the
/// suite slower, not red. Each deadline is its base value for an idle machine of this size, stretched by the
/// host's load at the moment it is asked for and by <c>SPLITEMU_TEST_TIME_SCALE</c> (for slow or shared runners).
/// </summary>
public static class TestDeadlines
{
    /// <summary>The environment variable that multiplies every deadline (a number ≥ 1; default 1).</summary>
    public const string ScaleVariable = "SPLITEMU_TEST_TIME_SCALE";

    private static readonly double s_userScale = ReadUserScale();

    /// <summary>The factor deadlines are stretched by now: the user's scale times the load per core, when above 1.</summary>
    public static double Scale => s_userScale * Math.Max(1.0, LoadPerCore());

    /// <summary>A deadline of <paramref name="seconds"/> on an idle machine, stretched by <see cref="Scale"/>.</summary>
    public static TimeSpan Seconds(double seconds) => TimeSpan.FromSeconds(seconds * Scale);

    /// <summary>A deadline of <paramref name="minutes"/> on an idle machine, stretched by <see cref="Scale"/>.</summary>
    public static TimeSpan Minutes(double minutes) => TimeSpan.FromMinutes(minutes * Scale);

    private static double ReadUserScale()
    {
        string? text = Environment.GetEnvironmentVariable(ScaleVariable);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double scale) && scale >= 1 ? scale : 1.0;
    }

    /// <summary>The one-minute load average per core (Linux /proc/loadavg), or 0 where it cannot be read.</summary>
    private static double LoadPerCore()
    {
        try
        {
            string first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(first, CultureInfo.InvariantCulture) / Environment.ProcessorCount;
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
