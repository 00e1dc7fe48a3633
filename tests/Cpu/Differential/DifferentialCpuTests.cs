using System.Diagnostics;
using SplitEmu.CpuHost.Cpu.Translation;
using Xunit.Abstractions;

namespace SplitEmu.Tests.Cpu.Differential;

/// <summary>
/// SplitEmu against Unicorn 2 on random user-level instruction streams (docs/differential-testing.md). CI runs
/// fixed seeds; <c>SPLITEMU_DIFF_SEED</c> (a number or <c>random</c>) and <c>SPLITEMU_DIFF_COUNT</c> (instructions
/// per case) run a longer campaign locally.
/// </summary>
[Trait("Category", "Slow")] // 200,000 instructions on two CPUs (~10-20 s): not in the fast tier
public sealed class DifferentialCpuTests
{
    /// <summary>Instructions per case in CI: 4 cases, 200,000 instructions in all.</summary>
    private const long CiInstructionsPerCase = 50_000;

    private readonly ITestOutputHelper _output;

    public DifferentialCpuTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(4, true)]
    public void RandomInstructions_AgreeWithUnicorn(int ciSeed, bool paging)
    {
        int seed = SeedFromEnvironment() ?? ciSeed;
        long count = long.TryParse(Environment.GetEnvironmentVariable("SPLITEMU_DIFF_COUNT"), out long n) ? n : CiInstructionsPerCase;
        using var machine = new DifferentialMachine(paging);
        var runner = new DifferentialRunner(machine, seed);
        var clock = Stopwatch.StartNew();
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;

        DifferentialReport report = runner.Run(count);

        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        _output.WriteLine($"seed {seed}, paging {(paging ? "on" : "off")}: {report.Instructions} instructions in {clock.Elapsed.TotalSeconds:F1} s "
                          + $"({cpu.TotalSeconds:F1} s CPU), {report.Exceptions} exceptions, {report.UndefinedResults} with undefined results, "
                          + $"{report.MismatchCount} mismatches");
        _output.WriteLine($"  mnemonics run: {report.ByMnemonic.Count(c => c > 0)}");
        foreach ((string name, long excluded) in report.Excluded)
            _output.WriteLine($"  excluded ({name}): {excluded}");
        foreach (string m in report.Mismatches)
            _output.WriteLine(m);
        Assert.True(report.MismatchCount == 0,
            $"{report.MismatchCount} mismatches with Unicorn (seed {seed}); the first:\n" + string.Join("\n", report.Mismatches.Take(5)));
    }

    /// <summary>Instructions per translated case: each is compiled as its own block (~0.5 ms), so fewer than above.</summary>
    private const long TranslatedInstructionsPerCase = 10_000;

    [Theory]
    [InlineData(11, false)]
    [InlineData(12, true)]
    public void RandomInstructions_Translated_AgreeWithUnicorn(int ciSeed, bool paging)
    {
        int seed = SeedFromEnvironment() ?? ciSeed;
        using var machine = new DifferentialMachine(paging, CpuExecutionMode.Translator);
        var runner = new DifferentialRunner(machine, seed);

        DifferentialReport report = runner.Run(TranslatedInstructionsPerCase);

        TranslationStatistics translation = machine.SplitEmu.Translation;
        _output.WriteLine($"seed {seed}, paging {(paging ? "on" : "off")}: {report.Instructions} instructions, {report.MismatchCount} mismatches; {translation}");
        foreach (string m in report.Mismatches)
            _output.WriteLine(m);
        Assert.True(report.MismatchCount == 0,
            $"{report.MismatchCount} mismatches with Unicorn, translated (seed {seed}); the first:\n" + string.Join("\n", report.Mismatches.Take(5)));
        Assert.True(translation.InstructionsRunTranslated > report.Instructions / 2,
                    $"only {translation.InstructionsRunTranslated} of {report.Instructions} instructions ran translated");
    }

    [Fact]
    public void Runner_ReportsAReproducer_WhenUnicornDisagrees()
    {
        const long count = 200; // enough for instructions that complete without an exception
        using var machine = new DifferentialMachine(paging: false);
        var runner = new DifferentialRunner(machine, seed: 7)
        {
            AfterUnicornStep = uc => uc.WriteRegister(Unicorn.RegEbx, uc.ReadRegister(Unicorn.RegEbx) ^ 0x100),
        };

        DifferentialReport report = runner.Run(count);

        Assert.True(report.MismatchCount > count / 2, $"{report.MismatchCount} mismatches");
        Assert.Contains("bytes: ", report.Mismatches[0]);
        Assert.Contains("before: EAX=", report.Mismatches[0]);
        Assert.Contains("EBX: splitemu", report.Mismatches[0]);
    }

    [Fact]
    public void Unicorn_IsLoadable()
    {
        // Fails (never skips) with the install hint when libunicorn2 is missing.
        Unicorn.EnsureLoadable();
    }

    /// <summary>SPLITEMU_DIFF_SEED: a number, or "random" for a fresh seed (printed, so a failure can be replayed).</summary>
    private int? SeedFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable("SPLITEMU_DIFF_SEED");
        if (string.IsNullOrEmpty(text))
            return null;
        if (text == "random")
        {
            int seed = Random.Shared.Next();
            _output.WriteLine($"SPLITEMU_DIFF_SEED=random: using seed {seed}");
            return seed;
        }
        return int.Parse(text);
    }
}
