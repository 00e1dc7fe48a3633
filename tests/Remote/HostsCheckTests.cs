using System.Text.Json.Nodes;
using SplitEmu.Launch.Remote;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Remote;

/// <summary>
/// `splitemu hosts check` against a real OpenSSH server in a network namespace (<see cref="SshTestHost"/>): the launcher
/// runs the system's ssh client, which runs splitemu "over there" (the same build, as a remote host would have it).
/// </summary>
[Trait("Category", "Slow")]
public sealed class HostsCheckTests(SshTestHost host) : IClassFixture<SshTestHost>
{
    /// <summary>ssh reads no configuration of the developer's (ProxyJump, ControlMaster...): only the test's own hosts are contacted.</summary>
    private static readonly Dictionary<string, string> s_environment = new() { [SshCommand.ConfigVariable] = "none" };

    /// <summary>`splitemu hosts check PROFILE`, each host given the suite's deadline for an answer (a loaded box is slower, not red).</summary>
    private static SplitEmuProcess Check(string profile)
    {
        SplitEmuProcess check = SplitEmuProcess.StartWithEnvironment(s_environment, "hosts", "check", profile, "--timeout-ms", ((int)TestDeadlines.Seconds(15).TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        check.WaitForExit(SplitEmuProcess.DefaultTimeout);
        return check;
    }

    [Fact]
    public void AReachableHost_ReportsItsBuildAndTheDeviceTypesItServes()
    {
        string profile = Profile(host.Entry());

        using SplitEmuProcess check = Check(profile);

        Assert.True(check.ExitCode == 0, $"exit code {check.ExitCode}\n{check.StandardOutput}\n{check.StandardError}\nserver log:\n{host.ServerLog}");
        string line = Assert.Single(check.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"lab  {host.Url}  reachable, splitemu 1.", line);
        Assert.DoesNotContain("(this one is", line); // the same build answered
        Assert.Contains("device types: uart16550, debug-exit, testdev", line);
        Assert.DoesNotContain("i8259", line); // built by the CPU process, never served by a device host
    }

    [Fact]
    public void AHostWhoseKeyIsUnknown_IsRefused_WithoutAPrompt_AndSaysWhy()
    {
        string profile = Profile(host.Entry(knownHosts: host.StrangerKnownHostsFile));

        using SplitEmuProcess check = Check(profile);

        Assert.Equal(ExitCodes.Failure, check.ExitCode);
        Assert.Contains("lab  ", check.StandardOutput);
        Assert.Contains("unreachable: ssh failed: Host key verification failed.", check.StandardOutput);
        Assert.Contains("splitemu never accepts an unknown key", check.StandardOutput);
        Assert.Equal("", File.ReadAllText(host.StrangerKnownHostsFile)); // nothing was learnt on first use either
    }

    [Fact]
    public void AHostWithoutSplitemu_AndAPortNobodyListensOn_AreReportedEachWithItsReason()
    {
        string profile = Profile(
            host.Entry(splitemu: "/nonexistent/splitemu"),
            new JsonObject { ["url"] = $"ssh://{SshTestHost.User}@{host.Address}:2223", ["identity"] = host.IdentityFile, ["knownHosts"] = host.KnownHostsFile });

        using SplitEmuProcess check = Check(profile);

        Assert.Equal(ExitCodes.Failure, check.ExitCode);
        string[] lines = check.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("unreachable: no splitemu there: '/nonexistent/splitemu' was not found", lines[0]);
        Assert.Contains("hosts.lab.splitemu", lines[0]);
        Assert.Contains("unreachable: ssh failed: ssh: connect to host", lines[1]);
        Assert.Contains("Connection refused", lines[1]);
    }

    /// <summary>A profile on top of the shipped default machine with <paramref name="lab"/> (and <paramref name="rig"/>) as hosts.</summary>
    private string Profile(JsonObject lab, JsonObject? rig = null)
    {
        JsonObject hosts = new() { ["lab"] = lab };
        if (rig is not null)
        {
            hosts["rig"] = rig;
        }

        return host.WriteHostsProfile(hosts);
    }
}
