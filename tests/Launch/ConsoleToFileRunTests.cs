using System.Diagnostics;
using System.Text.RegularExpressions;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// `splitemu run > log 2>&amp;1`: the guest's console and the launcher's messages share one file and its offset,
/// so each lands after the other in the order written, and neither overwrites the other (a console stream with
/// a position of its own wrote the guest's bytes over the launcher's line, and the line over the guest's).
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class ConsoleToFileRunTests
{
    [Fact]
    public void ConsoleAndMessages_RedirectedToOneFile_AreBothThere_InOrder()
    {
        using TempFolder folder = new();
        string log = folder.File("run.log");
        // The crash comes at the UART's first access, before the guest has printed anything: the launcher's line is
        // written before the restart the guest waits for, so both lines are whole. (At a later access the guest's
        // first byte can reach the file first, and then the launcher's line rightly ends the guest's line early.)
        ProcessStartInfo shell = new("/bin/sh") { ArgumentList = { "-c", "exec \"$0\" run --set devices.com1.crash.atAccess=1 > \"$1\" 2>&1", Path.Combine(AppContext.BaseDirectory, "splitemu"), log } };
        using Process run = Process.Start(shell)!;
        try
        {
            Assert.True(run.WaitForExit(TestDeadlines.Seconds(60)), "splitemu did not exit");
        }
        finally
        {
            if (!run.HasExited)
            {
                run.Kill(entireProcessTree: true);
            }
        }

        // The injected crash makes the launcher say so on stderr while the guest runs.
        string written = File.ReadAllText(log);
        string[] lines = written.Split('\n');
        Assert.True(lines.Contains("Hello from SplitEmu") && lines.Any(l => Regex.IsMatch(l, "^Checksum: 0x[0-9A-F]{8}$"))
            && lines.Any(l => Regex.IsMatch(l, @"^splitemu: device process 'com1' \(pid \d+, epoch 0\) killed as requested \(crash injection\)$")),
            $"the guest's lines and the launcher's, each whole, expected in:\n{written}");
    }
}
