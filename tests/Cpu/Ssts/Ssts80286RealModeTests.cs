using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Xunit.Abstractions;

namespace SplitEmu.Tests.Cpu.Ssts;

/// <summary>
/// The hardware-generated SingleStepTests 80286 real-mode suite (first 200 tests per opcode) on the interpreter.
/// The data lives beside the repository (see <see cref="SstsDataLocator"/>); a missing folder fails the test.
/// </summary>
public sealed class Ssts80286RealModeTests(ITestOutputHelper output)
{
    /// <summary>Required share of passing tests among those not excluded.</summary>
    private const double RequiredPassRate = 0.995;
    private const string SummaryFileName = "ssts-80286-real-summary.txt";
    private const int FailuresShownPerOpcode = 4;

    [Fact]
    public void AllOpcodeFiles_PassAtLeastRequiredRate()
    {
        string folder = SstsDataLocator.Locate();
        SstsMetadata metadata = SstsMetadata.Load(folder);
        HashSet<string> revoked = LoadRevocations(folder);
        string[] files = Directory.GetFiles(folder, "*.jsonl.gz");
        Array.Sort(files, StringComparer.Ordinal);
        Assert.NotEmpty(files);

        var report = new StringBuilder();
        var failures = new StringBuilder();
        var exclusionCounts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int passed = 0, failed = 0, excluded = 0;
        var clock = Stopwatch.StartNew();
        using var runner = new SstsRunner();

        foreach (string file in files)
        {
            string opcode = Path.GetFileName(file)[..^".jsonl.gz".Length];
            (string status, ushort flagsMask) = metadata[opcode];
            string? reason = SstsExclusions.ReasonFor(opcode, status);
            int filePassed = 0, fileFailed = 0, fileExcluded = 0;
            foreach (string line in ReadLines(file))
            {
                SstsTestCase test = SstsTestCase.Parse(line);
                string? excludedBecause = reason ?? (revoked.Contains(test.Hash) ? "revoked by the suite" : SstsExclusions.ReasonFor(test));
                if (excludedBecause is not null)
                {
                    fileExcluded++;
                    exclusionCounts[excludedBecause] = exclusionCounts.GetValueOrDefault(excludedBecause) + 1;
                    continue;
                }
                string? mismatch = runner.Run(test, flagsMask);
                if (mismatch is null)
                {
                    filePassed++;
                    continue;
                }
                if (fileFailed++ < FailuresShownPerOpcode)
                    failures.AppendLine($"  {opcode} '{test.Name}' {test.Hash[..8]}: {mismatch}");
            }
            passed += filePassed;
            failed += fileFailed;
            excluded += fileExcluded;
            report.AppendLine(reason is null
                ? $"{opcode,-5} {filePassed,4}/{filePassed + fileFailed,-4} passed{(fileExcluded > 0 ? $", {fileExcluded} excluded" : "")}"
                : $"{opcode,-5} excluded ({fileExcluded}): {reason}");
        }

        int counted = passed + failed;
        double rate = counted == 0 ? 0 : (double)passed / counted;
        string summary = $"SSTS 80286 real mode: {passed} passed, {failed} failed, {excluded} excluded; pass rate {rate:P3} in {clock.Elapsed.TotalSeconds:F1} s";
        var exclusions = new StringBuilder();
        foreach (var (why, count) in exclusionCounts)
            exclusions.AppendLine($"{count,6}  {why}");
        string text = $"{summary}\n\nExcluded tests by reason:\n{exclusions}\nPer opcode:\n{report}\nFirst failures per opcode:\n{failures}";
        output.WriteLine(text);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, SummaryFileName), text);

        Assert.True(counted > 0, "no SSTS tests were run");
        Assert.True(rate >= RequiredPassRate, $"{summary}\n{failures}");
    }

    private static IEnumerable<string> ReadLines(string gzipFile)
    {
        using var stream = new GZipStream(File.OpenRead(gzipFile), CompressionMode.Decompress);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
                yield return line;
        }
    }

    private static HashSet<string> LoadRevocations(string folder)
    {
        string path = Path.Combine(folder, "revocation_list.txt");
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (File.Exists(path))
        {
            foreach (string line in File.ReadLines(path))
            {
                string trimmed = line.Trim();
                if (trimmed.Length > 0 && !trimmed.StartsWith('#'))
                    hashes.Add(trimmed);
            }
        }
        return hashes;
    }
}
