namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Whether the current thread is running a device's handler for an access, and the machine time the guest made it
/// at (<see cref="Shared.Transport.AccessTime"/>). Events raised in the handler of an access the guest waits for
/// are flagged <see cref="Shared.Transport.EventFlags.DuringAccess"/>, so the CPU applies them before that access
/// completes; a posted write's handler is timed the same way but not flagged (nothing waits for it). The device
/// process's own: an inline device's context applies events at once and its accesses are made now, so the CPU
/// process needs no scope (and entering one costs an inline access about half its time again).
/// </summary>
internal static class DeviceAccessScope
{
    /// <summary>Awaited accesses being handled on this thread (nested handlers count each).</summary>
    [ThreadStatic]
    private static int s_depth;

    /// <summary>Whether an access (awaited or posted) is being handled on this thread.</summary>
    [ThreadStatic]
    private static bool s_timed;

    /// <summary>The machine time that access was made at.</summary>
    [ThreadStatic]
    private static long s_accessAt;

    /// <summary>Whether that access is a journaled one replayed to a restarted device (<see cref="Shared.Transport.RequestFlags.Replayed"/>).</summary>
    [ThreadStatic]
    private static bool s_replayed;

    /// <summary>The event flags for an event raised on this thread now.</summary>
    public static ushort EventFlags => s_depth > 0 ? (ushort)Shared.Transport.EventFlags.DuringAccess : (ushort)0;

    /// <summary>Whether an access (awaited or posted, replayed or not) is being handled on this thread, rather than a timer.</summary>
    public static bool InAccess => s_timed;

    /// <summary>Whether the access handled on this thread is one a restarted device's journal replays.</summary>
    public static bool Replaying => s_replayed;

    /// <summary>
    /// The handler of an access made at <paramref name="accessNanoseconds"/> starts; <paramref name="awaited"/> when the
    /// guest waits for its reply (not a posted write), <paramref name="replayed"/> when it is replayed from a journal.
    /// Disposing the scope puts back what was there before, so a handler nested in another leaves the outer one's
    /// time as it found it.
    /// </summary>
    public static Scope Enter(long accessNanoseconds, bool awaited, bool replayed = false)
    {
        var outer = new Scope(awaited, s_timed, s_accessAt, s_replayed);
        if (awaited)
        {
            s_depth++;
        }

        s_timed = true;
        s_accessAt = accessNanoseconds;
        s_replayed = replayed;
        return outer;
    }

    /// <summary>When the guest made the access handled on this thread now (never after <paramref name="now"/>), else <paramref name="now"/>.</summary>
    public static long AccessNanoseconds(long now) => s_timed ? Math.Min(s_accessAt, now) : now;

    /// <summary>An entered handler; disposing it ends the handler.</summary>
    public readonly struct Scope(bool awaited, bool outerTimed, long outerAccessAt, bool outerReplayed) : IDisposable
    {
        public void Dispose()
        {
            if (awaited)
            {
                s_depth--;
            }

            s_timed = outerTimed;
            s_accessAt = outerAccessAt;
            s_replayed = outerReplayed;
        }
    }
}
