namespace SplitEmu.DeviceHost.Common;

/// <summary>
/// Whether the current thread is running a device's handler for an access, and the machine time the guest made it
/// at (<see cref="Shared.Transport.AccessTime"/>). Events raised in the handler of an access the guest waits for
/// are flagged <see cref="Shared.Transport.EventFlags.DuringAccess"/>, so the CPU applies them before that access
/// completes; a posted write's handler is timed the same way but not flagged (nothing waits for it). Entered by
/// <see cref="DeviceInvoker"/> around every access, wherever the device runs.
/// </summary>
public static class DeviceAccessScope
{
    /// <summary>
    /// The access time of an access handled at the moment the guest makes it (an inline device's): inside its
    /// handler <see cref="AccessNanoseconds"/> answers the clock's reading then, as outside any access.
    /// </summary>
    public const long MadeNow = long.MaxValue;

    /// <summary>Awaited accesses being handled on this thread (nested handlers count each).</summary>
    [ThreadStatic]
    private static int s_depth;

    /// <summary>Whether an access (awaited or posted) is being handled on this thread.</summary>
    [ThreadStatic]
    private static bool s_timed;

    /// <summary>The machine time that access was made at.</summary>
    [ThreadStatic]
    private static long s_accessAt;

    /// <summary>The event flags for an event raised on this thread now.</summary>
    public static ushort EventFlags => s_depth > 0 ? (ushort)Shared.Transport.EventFlags.DuringAccess : (ushort)0;

    /// <summary>
    /// The handler of an access made at <paramref name="accessNanoseconds"/> starts; <paramref name="awaited"/> when the
    /// guest waits for its reply (not a posted write). Disposing the scope puts back what was there before, so a
    /// handler nested in another leaves the outer one's time as it found it.
    /// </summary>
    public static Scope Enter(long accessNanoseconds, bool awaited)
    {
        var outer = new Scope(awaited, s_timed, s_accessAt);
        if (awaited)
        {
            s_depth++;
        }

        s_timed = true;
        s_accessAt = accessNanoseconds;
        return outer;
    }

    /// <summary>When the guest made the access handled on this thread now (never after <paramref name="now"/>), else <paramref name="now"/>.</summary>
    public static long AccessNanoseconds(long now) => s_timed ? Math.Min(s_accessAt, now) : now;

    /// <summary>An entered handler; disposing it ends the handler.</summary>
    public readonly struct Scope(bool awaited, bool outerTimed, long outerAccessAt) : IDisposable
    {
        /// <summary>Ends the handler: puts back the scope it was entered in.</summary>
        public void Dispose()
        {
            if (awaited)
            {
                s_depth--;
            }

            s_timed = outerTimed;
            s_accessAt = outerAccessAt;
        }
    }
}
