using System.Globalization;
using SplitEmu.Launch.Supervision;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// `splitemu bench sandbox`: what the device sandbox costs a device process, against the same process started
/// without it in the same run: the start (spawn until its control connection is up: the namespaces are made
/// here) and the attach (ring mapped, a test device built: the lock-down happens here), alternating the two
/// kinds so that drift on a shared machine hits both alike.
/// </summary>
internal static class SandboxBench
{
    /// <summary>Runs <paramref name="runs"/> starts and attaches of each kind and prints both rows and the difference.</summary>
    public static async Task<int> ExecuteAsync(int runs, TextWriter output, CancellationToken cancellationToken)
    {
        runs = Math.Max(1, runs);
        string folder = Directory.CreateTempSubdirectory($"splitemu-{Environment.ProcessId}-bench-").FullName;
        try
        {
            (LatencySamples Start, LatencySamples Attach) open = (new(runs), new(runs));
            (LatencySamples Start, LatencySamples Attach) confined = (new(runs), new(runs));
            for (int run = 0; run < runs; run++)
            {
                await MeasureAsync(folder, sandboxed: false, open, run, cancellationToken).ConfigureAwait(false);
                await MeasureAsync(folder, sandboxed: true, confined, run, cancellationToken).ConfigureAwait(false);
            }

            output.WriteLine($"splitemu bench sandbox: a {HostExecutables.Kind(HostExecutables.DeviceHost)} device process, {runs} starts of each kind, alternating; load {HostLoad.Average()}");
            output.WriteLine("  device process          start p50    start p90    attach p50   attach p90");
            Row(output, "sandbox off", open);
            Row(output, "sandbox strict", confined);
            double addedStart = Median(confined.Start) - Median(open.Start);
            double addedAttach = Median(confined.Attach) - Median(open.Attach);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  the sandbox adds {addedStart:F2} ms to a start and {addedAttach:F2} ms to an attach (p50): {addedStart + addedAttach:F2} ms per device process, {(Median(confined.Start) + Median(confined.Attach)) / (Median(open.Start) + Median(open.Attach)):F2}x the unconfined start and attach"));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task MeasureAsync(string folder, bool sandboxed, (LatencySamples Start, LatencySamples Attach) samples, int run, CancellationToken cancellationToken)
    {
        await using TimedDeviceProcess process = await TimedDeviceProcess.StartAsync(
            HostExecutables.DeviceHost, folder, $"{(sandboxed ? "strict" : "off")}{run}", sandboxed, TimedDeviceProcess.BenchDevice, cancellationToken).ConfigureAwait(false);
        samples.Start.Add(process.StartTicks);
        samples.Attach.Add(process.AttachTicks);
    }

    private static double Median(LatencySamples samples) => samples.PercentileMicroseconds(50) / 1000;

    private static void Row(TextWriter output, string name, (LatencySamples Start, LatencySamples Attach) samples) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-22} {samples.Start.PercentileMicroseconds(50) / 1000,9:F2} ms {samples.Start.PercentileMicroseconds(90) / 1000,9:F2} ms {samples.Attach.PercentileMicroseconds(50) / 1000,9:F2} ms {samples.Attach.PercentileMicroseconds(90) / 1000,9:F2} ms"));
}
