using Iced.Intel;
using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Guests;
using SplitEmu.Tests.Infrastructure;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Devices.Legacy;

/// <summary>
/// An isolated debug console takes the guest's writes posted (the guest does not wait for each byte): every byte
/// still comes out once and in order, the last ones before the guest ends the machine included, also when the
/// console's process is killed again and again while the guest writes.
/// </summary>
[Trait("Category", "Slow")] // starts processes
public sealed class DebugConsolePostedWriteTests
{
    private const ulong LoadAddress = 0x10_0000;
    private const ushort ConsolePort = 0x402;
    private const int Bytes = 1_500;

    [Theory]
    [InlineData("", 0)]                            // no crash
    [InlineData("\"everyAccesses\": 400", 3)]      // the journal replays what each dead process had not handled
    [InlineData("\"atAccess\": " + "1500", 1)]     // the last byte goes to a successor just before the guest ends the machine
    public void EveryPostedByte_ComesOutOnceAndInOrder(string crash, int kills)
    {
        using TempFolder folder = new();
        string guest = folder.File("writer.bin");
        File.WriteAllBytes(guest, BuildWriter());
        string crashing = crash.Length > 0 ? $$""", "crash": { {{crash}} }, "restart": { "maxRestarts": 100 }""" : "";
        string profile = folder.File("machine.json");
        string report = folder.File("report.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "debugcon-posted",
              "memory": { "sizeMiB": 4 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x{{LoadAddress:x}}" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x{{LoadAddress:x}}", "stack": "0x180000" },
              "console": "dbg",
              "devices": [
                { "id": "dbg", "type": "debugcon", "placement": "isolated"{{crashing}} },
                { "id": "exit", "type": "debug-exit", "io": "0x{{DebugExitReport.Port:x}}", "placement": "inline" }
              ]
            }
            """);

        using SplitEmuProcess run = SplitEmuProcess.Start("run", profile, "--report", report);
        run.WaitForExit(TestDeadlines.Seconds(120));

        Assert.True(run.ExitCode == 33, $"exit {run.ExitCode}; stderr: {run.StandardError}");
        string expected = new(Enumerable.Range(0, Bytes).Select(i => (char)('a' + (i & 15))).ToArray());
        Assert.Equal(expected + "\n", run.StandardOutput); // the launcher ends an unfinished last line
        Assert.True(RunReport.Read(report).Devices.Single(d => d.Id == "dbg").Restarts >= kills, "the console's process was not killed as asked");
    }

    /// <summary>Writes 'a' + (i &amp; 15) for i = 0 .. <see cref="Bytes"/> - 1 to the console, then ends the machine at once.</summary>
    private static byte[] BuildWriter()
    {
        Assembler a = new(32);
        Label loop = a.CreateLabel("loop");
        a.mov(dx, ConsolePort);
        a.xor(ecx, ecx);
        a.Label(ref loop);
        a.mov(eax, ecx);
        a.and(eax, 15);
        a.add(eax, 'a');
        a.@out(dx, al);
        a.inc(ecx);
        a.cmp(ecx, Bytes);
        a.jb(loop);
        a.mov(eax, 0x10); // exit code 33
        DebugExitReport.Emit(a);
        using MemoryStream code = new();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        return code.ToArray();
    }
}
