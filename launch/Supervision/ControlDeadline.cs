namespace SplitEmu.Launch.Supervision;

/// <summary>
/// Every control call to a child has a deadline: a child that does not answer in time (stopped, hung, or
/// hostile) is killed with SIGKILL, which also ends a stopped process, and the call fails with
/// <see cref="ControlTimeoutException"/> saying who did not answer what. The launcher never waits on a child for good.
/// </summary>
internal static class ControlDeadline
{
    /// <summary>How long a control call may take. Attach and bind do little work; 10 s is generous on a loaded box.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    public static async Task CallAsync(Task call, ChildProcess child, string what, TimeSpan? deadline = null)
    {
        TimeSpan limit = deadline ?? Default;
        try
        {
            await call.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            child.Kill();
            throw new ControlTimeoutException($"{child.Label} (pid {child.ProcessId}) did not answer {what} within {limit.TotalSeconds:F0} s; killed it");
        }
    }

    public static async Task<T> CallAsync<T>(Task<T> call, ChildProcess child, string what, TimeSpan? deadline = null)
    {
        await CallAsync((Task)call, child, what, deadline).ConfigureAwait(false);
        return await call.ConfigureAwait(false);
    }
}

/// <summary>A child did not answer a control call in time and was killed.</summary>
public sealed class ControlTimeoutException(string message) : Exception(message);
