using System.Diagnostics;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Tests.Profiles;

namespace SplitEmu.Tests.Launch;

/// <summary>The README's one step that puts `splitemu` on PATH (scripts/install-splitemu.sh).</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class InstallScriptTests
{
    [Fact]
    public void InstallScript_PutsSplitemuOnPath_AndTheLinkedCommandRunsTheDefaultMachine()
    {
        using TempFolder prefix = new();
        string configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        string script = Path.Combine(ProfileTestPaths.RepositoryRoot, "scripts", "install-splitemu.sh");

        (int installed, string installOutput) = Run("bash", [script, "--prefix", prefix.Path, "--configuration", configuration, "--no-build"], prefix.Path);
        Assert.True(installed == 0, installOutput);

        // Found through PATH alone, from another working directory, as a user types it.
        (int exit, string output) = Run("bash", ["-c", "splitemu run"], prefix.Path, path: Path.Combine(prefix.Path, "bin"));
        Assert.True(exit == DefaultGuestExitCode, output);
        Assert.Contains("Hello from SplitEmu", output, StringComparison.Ordinal);
    }

    /// <summary>The default guest writes 0x10 to debug-exit: (0x10 &lt;&lt; 1) | 1.</summary>
    private const int DefaultGuestExitCode = 33;

    private static (int ExitCode, string Output) Run(string program, string[] arguments, string workingDirectory, string? path = null)
    {
        ProcessStartInfo info = new(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (path is not null)
        {
            info.Environment["PATH"] = path + ":" + Environment.GetEnvironmentVariable("PATH");
        }

        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TestDeadlines.Seconds(60)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} did not finish");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
