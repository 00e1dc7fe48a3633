using SplitEmu.Launch.Reports;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Launch;

/// <summary>Runs the built-in default machine once, with a report, for the tests that look at that run.</summary>
public sealed class DefaultMachineFixture : IDisposable
{
    private readonly TempFolder _folder = new();

    /// <summary>Runs `splitemu run --report FILE`.</summary>
    public DefaultMachineFixture()
    {
        ReportPath = _folder.File("report.json");
        using SplitEmuProcess run = SplitEmuProcess.Run("run", "--report", ReportPath);
        LauncherPid = run.ProcessId;
        StandardOutput = run.StandardOutput;
        StandardError = run.StandardError;
        ExitCode = run.ExitCode;
        Report = File.Exists(ReportPath) ? RunReport.Read(ReportPath) : null;
    }

    /// <summary>Where the report was written.</summary>
    public string ReportPath { get; }

    /// <summary>The launcher's process id.</summary>
    public int LauncherPid { get; }

    /// <summary>What the guest printed.</summary>
    public string StandardOutput { get; }

    /// <summary>Diagnostics.</summary>
    public string StandardError { get; }

    /// <summary>splitemu's exit code.</summary>
    public int ExitCode { get; }

    /// <summary>The report, if one was written.</summary>
    public RunReport? Report { get; }

    /// <inheritdoc/>
    public void Dispose() => _folder.Dispose();
}
