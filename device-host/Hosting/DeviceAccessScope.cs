using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Whether the current thread is running a device's handler for an access. Events raised there are flagged
/// <see cref="Shared.Transport.EventFlags.DuringAccess"/>, so the CPU applies them before that access completes.
/// A posted write's handler is not such a scope (nothing waits for it). Either carries the machine time the
/// guest made the access at (<see cref="Shared.Transport.AccessTime"/>).
/// </summary>
internal static class DeviceAccessScope
{
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

    /// <summary>The handler of an access the guest waits for, made at <paramref name="accessNanoseconds"/>, starts.</summary>
    public static void Enter(long accessNanoseconds)
    {
        s_depth++;
        s_accessAt = accessNanoseconds;
        s_timed = true;
    }

    /// <summary>A handler ended.</summary>
    public static void Exit() => s_timed = --s_depth > 0;

    /// <summary>
    /// The handler of a posted write the guest made at <paramref name="accessNanoseconds"/> starts (no reply is
    /// awaited, so its events are not flagged as during an access, but its time is the guest's).
    /// </summary>
    public static void EnterPosted(long accessNanoseconds)
    {
        s_accessAt = accessNanoseconds;
        s_timed = true;
    }

    /// <summary>The handler of a posted write ended.</summary>
    public static void ExitPosted() => s_timed = s_depth > 0;

    /// <summary>When the guest made the access handled on this thread now (never after <paramref name="now"/>), else <paramref name="now"/>.</summary>
    public static long AccessNanoseconds(long now) => s_timed ? Math.Min(s_accessAt, now) : now;
}
