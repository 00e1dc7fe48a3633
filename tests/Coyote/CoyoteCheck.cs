using System.Diagnostics;
using System.Globalization;
using Microsoft.Coyote;
using Microsoft.Coyote.Logging;
using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using SplitEmu.CpuHost.Memory;
using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace SplitEmu.Tests.Coyote;

/// <summary>
/// Runs a concurrency unit test under Coyote's systematic scheduler for a bounded number of schedules and fails the
/// xunit test with the bug report (and a reproducible schedule written next to the test assembly) when one breaks.
/// </summary>
/// <remarks>
/// No binary rewriting: tasks are started and joined through Coyote's controlled task API (<see cref="Controlled"/>), and
/// the only scheduling points are the explicit ones: <see cref="SchedulingPoint.Interleave"/> in the tests before
/// each lease operation, and <see cref="RegionLease.InterleaveHook"/> inside RegionLease between each read of its
/// state and the atomic step that acts on it. Between two scheduling points a task runs alone, which is what lets
/// the tests keep exact ghost state next to the lease. docs/testing-concurrency.md has the details.
/// </remarks>
internal static class CoyoteCheck
{
    /// <summary>Fixed so CI explores the same schedules every run; SPLITEMU_COYOTE_SEED explores others.</summary>
    private const uint DefaultSeed = 20261125;

    /// <summary>
    /// Explores <paramref name="iterations"/> schedules of <paramref name="test"/> (SPLITEMU_COYOTE_ITERATIONS
    /// overrides, e.g. 100000 for a long local run) and returns the engine's report.
    /// </summary>
    public static TestReport Explore(string name, Action test, uint iterations, ITestOutputHelper output)
    {
        RegionLease.InterleaveHook = SchedulingPoint.Interleave;
        uint count = ReadOverride("SPLITEMU_COYOTE_ITERATIONS") ?? iterations;
        uint seed = ReadOverride("SPLITEMU_COYOTE_SEED") ?? DefaultSeed;
        Configuration configuration = Configuration.Create()
            .WithTestingIterations(count)
            .WithRandomGeneratorSeed(seed)
            .WithPartiallyControlledConcurrencyAllowed(false)
            .WithTelemetryEnabled(false)
            .WithConsoleLoggingEnabled(false)
            .WithVerbosityEnabled(VerbosityLevel.None);
        using TestingEngine engine = TestingEngine.Create(configuration, test);
        Stopwatch took = Stopwatch.StartNew();
        engine.Run();
        TestReport report = engine.TestReport;
        int explored = report.NumOfExploredFairPaths + report.NumOfExploredUnfairPaths;
        output.WriteLine(
            $"{name}: {explored} schedules (seed {seed}) in {took.ElapsedMilliseconds} ms, {report.NumOfFoundBugs} bug(s), " +
            $"up to {report.MaxControlledOperations} controlled operations and {report.MaxExploredFairSteps} scheduling steps per schedule");
        Assert.Empty(report.InternalErrors);
        Assert.Empty(report.UncontrolledInvocations);
        if (report.NumOfFoundBugs > 0)
        {
            string directory = Path.Combine(AppContext.BaseDirectory, "coyote-traces");
            Directory.CreateDirectory(directory);
            string schedule = Path.Combine(directory, name + ".schedule");
            File.WriteAllText(schedule, engine.ReproducibleTrace);
            File.WriteAllText(Path.Combine(directory, name + ".txt"), engine.ReadableTrace);
            output.WriteLine($"{name}: failing schedule after {explored} schedules: {string.Join("; ", report.BugReports)} (replay: {schedule})");
        }

        return report;
    }

    /// <summary>Explores <paramref name="test"/> and fails when Coyote found a schedule that breaks an assertion.</summary>
    public static void Check(string name, Action test, uint iterations, ITestOutputHelper output)
    {
        TestReport report = Explore(name, test, iterations, output);
        Assert.True(
            report.NumOfFoundBugs == 0,
            $"{name}: Coyote found a failing schedule: {string.Join("; ", report.BugReports)} " +
            $"(schedule in {Path.Combine(AppContext.BaseDirectory, "coyote-traces", name + ".schedule")}, replay with Configuration.WithReproducibleTrace)");
        Assert.True(report.NumOfExploredFairPaths + report.NumOfExploredUnfairPaths >= 1, $"{name}: no schedule was explored");
    }

    private static uint? ReadOverride(string variable) =>
        uint.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.None, CultureInfo.InvariantCulture, out uint value) && value > 0
            ? value
            : null;
}

/// <summary>
/// Coyote's controlled tasks, called directly: they are what <c>coyote rewrite</c> would substitute for
/// <see cref="Task.Run(Action)"/> and <see cref="Task.WaitAll(Task[])"/>. A task started here is scheduled by Coyote.
/// </summary>
internal static class Controlled
{
    /// <summary>Starts <paramref name="work"/> as a controlled operation.</summary>
    public static Task Run(Action work) => Microsoft.Coyote.Rewriting.Types.Threading.Tasks.Task.Run(work);

    /// <summary>Waits for controlled tasks (a scheduling point: the others run meanwhile).</summary>
    public static void WaitAll(params Task[] tasks) => Microsoft.Coyote.Rewriting.Types.Threading.Tasks.Task.WaitAll(tasks);
}
