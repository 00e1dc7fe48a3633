using System.Diagnostics;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.Launch.Bench;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Hosting;

/// <summary>
/// A device process is assumed exploited: from inside its handler, the test device tries what an attacker
/// would, in a real sandboxed device process over a real ring. What the sandbox cannot refuse with an error
/// it refuses by killing the process (seccomp, SIGSYS), which the machine survives like any device crash.
/// </summary>
[Trait("Category", "Slow")] // starts processes: not in the fast tier
public sealed class DeviceSandboxTests
{
    private const ushort TestPort = 0x510;
    private const int SigSys = 31;
    private const ulong Enoent = 2;

    private static DeviceConfig Testdev() => new()
    {
        Id = "exploited",
        Type = TestDevice.TypeName,
        Io = TestPort,
        Placement = Placement.Isolated,
        WhileDown = DownBehavior.AllOnes, // a killed device answers at once: this harness restarts nothing
    };

    private static ulong Probe(IsolatedDeviceHarness harness, SandboxProbe.Kind kind, ulong argument)
    {
        harness.Machine.Bus.WritePort((ushort)(TestPort + TestDevice.NewBaseRegister), 4, (uint)argument);
        harness.Machine.Bus.WritePort((ushort)(TestPort + TestDevice.MapChangeRegister), 4, (uint)(TestDevice.RunProbe + (ulong)kind));
        return harness.Machine.Bus.ReadPort((ushort)(TestPort + TestDevice.NewBaseRegister), 4);
    }

    [Fact]
    public async Task TheFileSystem_IsEmpty_InsideTheSandbox_AndFullWithoutIt()
    {
        int cpu = Environment.ProcessId; // the test plays the CPU process
        await using IsolatedDeviceHarness sandboxed = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(Testdev()), sandboxed: true);
        await using IsolatedDeviceHarness open = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(Testdev()), sandboxed: false);

        Assert.Equal(Enoent, Probe(sandboxed, SandboxProbe.Kind.OpenHostFile, 0));
        Assert.Equal(Enoent, Probe(sandboxed, SandboxProbe.Kind.OpenProcessDescriptor, (ulong)cpu));
        Assert.Equal(RootEntriesLeft(sandboxed), Probe(sandboxed, SandboxProbe.Kind.ListRoot, 0));
        Assert.False(sandboxed.DeviceProcess.Process.HasExited); // refused with an error, not killed

        // The same probes from an unconfined device process succeed: the probes can tell.
        Assert.Equal(0ul, Probe(open, SandboxProbe.Kind.OpenHostFile, 0));
        Assert.NotEqual(0ul, Probe(open, SandboxProbe.Kind.ListRoot, 0));
    }

    [Fact]
    public async Task AJitHostInstalledUnderTmp_KeepsItsFoldersInTheSandbox_AndServes()
    {
        // The new root is staged on a tmpfs mounted over /tmp. A JIT host keeps its own folder (it loads assemblies
        // lazily), and a host installed under /tmp (a checkout there, or this copy) once found that folder hidden by
        // the tmpfs: "sandbox: cannot bind ...: errno 2", and it refused to serve.
        using TempFolder copy = new();
        Assert.StartsWith(Path.GetTempPath(), copy.Path, StringComparison.Ordinal);
        foreach (string file in Directory.EnumerateFiles(AppContext.BaseDirectory))
        {
            string name = Path.GetFileName(file);
            if (name.EndsWith(".dll", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.Ordinal) || name == HostExecutables.DeviceHost)
            {
                File.Copy(file, Path.Combine(copy.Path, name));
            }
        }

        string host = Path.Combine(copy.Path, HostExecutables.DeviceHost); // File.Copy keeps its execute bit
        await using TimedDeviceProcess process = await TimedDeviceProcess.StartAsync(host, copy.Path, "jit-under-tmp", sandboxed: true, Testdev(), CancellationToken.None)
            .WaitAsync(TestDeadlines.Seconds(60));

        Assert.NotEmpty(process.Attached.Regions);
        Assert.False(process.Child.Process.HasExited, string.Join("\n", process.Child.LastLines));
    }

    [Fact]
    public async Task TheHarmfulProbes_RunOnlyInALockedDownProcess()
    {
        // Any guest can write the test device's register: outside the sandbox it must not kill anything.
        using Process target = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            await using IsolatedDeviceHarness open = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(Testdev()), sandboxed: false);

            Assert.Equal(0xFFFF_FFFFu, Probe(open, SandboxProbe.Kind.KillProcess, (ulong)target.Id)); // Refused, through a 32-bit register
            Assert.Equal(0xFFFF_FFFFu, Probe(open, SandboxProbe.Kind.Execute, 0));
            Assert.False(target.HasExited);
            Assert.False(open.DeviceProcess.Process.HasExited);
        }
        finally
        {
            target.Kill();
        }
    }

    /// <summary>
    /// What the sandboxed root holds: nothing for the native host; the JIT host keeps its own folder and the
    /// runtime's (it loads assemblies lazily), so the first component of each.
    /// </summary>
    private static ulong RootEntriesLeft(IsolatedDeviceHarness harness) =>
        harness.DeviceProcess.Kind == "native"
            ? 0
            : (ulong)new[] { AppContext.BaseDirectory, System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory() }
                .Select(folder => Path.GetFullPath(folder).Split('/', StringSplitOptions.RemoveEmptyEntries)[0]).Distinct().Count();

    [Theory]
    [InlineData(SandboxProbe.Kind.KillProcess)]
    [InlineData(SandboxProbe.Kind.TraceProcess)]
    [InlineData(SandboxProbe.Kind.Execute)]
    [InlineData(SandboxProbe.Kind.OpenNetworkSocket)]
    public async Task AnAttackTheFilterForbids_KillsTheDeviceProcess_AndHarmsNoOne(SandboxProbe.Kind kind)
    {
        using Process target = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(Testdev()), sandboxed: true);

            Probe(harness, kind, (ulong)target.Id);

            Process device = harness.DeviceProcess.Process;
            Assert.True(device.WaitForExit(TestDeadlines.Seconds(10)), "the device process survived a forbidden system call");
            Assert.Equal(128 + SigSys, device.ExitCode);
            Assert.False(target.HasExited, "the device process killed another process");
            Assert.Equal(0xFFFF_FFFFu, harness.Machine.Bus.ReadPort(TestPort, 4)); // the machine goes on: the dead device reads all-ones
        }
        finally
        {
            target.Kill();
        }
    }
}
