using SplitEmu.Launch.Supervision;

namespace SplitEmu.Tests.Launch;

/// <summary>How signals turn into a clean or a forced stop of a run.</summary>
public sealed class StopRequestTests
{
    [Fact]
    public void FirstCtrlC_StopsCleanly_AndForcesNothing()
    {
        using StopRequest stop = new(CancellationToken.None);
        int forced = 0;
        stop.OnForce(() => forced++);

        stop.Interrupt();

        Assert.True(stop.Token.IsCancellationRequested);
        Assert.False(stop.Forced);
        Assert.Equal(0, forced);
        Assert.Equal("stopped by Ctrl-C", stop.Detail);
    }

    [Fact]
    public void SecondCtrlC_ForcesTheStop_Once()
    {
        using StopRequest stop = new(CancellationToken.None);
        int forced = 0;
        stop.OnForce(() => forced++);

        stop.Interrupt();
        stop.Interrupt();
        stop.Interrupt();

        Assert.True(stop.Forced);
        Assert.Equal(1, forced);
        Assert.Equal("forced by a second Ctrl-C", stop.Detail);
    }

    [Fact]
    public void ForceAskedBeforeTheMachineCouldTakeIt_RunsWhenTheMachineRegisters()
    {
        using StopRequest stop = new(CancellationToken.None);
        stop.Interrupt();
        stop.Interrupt();
        int forced = 0;

        stop.OnForce(() => forced++);

        Assert.Equal(1, forced);
    }

    [Fact]
    public void SigTerm_StopsCleanly_AndSaysSo_AndALaterCtrlCKeepsTheFirstReason()
    {
        using StopRequest stop = new(CancellationToken.None);

        stop.Terminate();
        stop.Interrupt();

        Assert.True(stop.Token.IsCancellationRequested);
        Assert.False(stop.Forced);
        Assert.Equal("stopped by SIGTERM", stop.Detail);
    }
}
