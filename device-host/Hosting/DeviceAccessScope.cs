using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Whether the current thread is running a device's handler for an access. Events raised there are flagged
/// <see cref="Shared.Transport.EventFlags.DuringAccess"/>, so the CPU applies them before that access completes.
/// </summary>
internal static class DeviceAccessScope
{
    [ThreadStatic]
    private static int s_depth;

    /// <summary>The event flags for an event raised on this thread now.</summary>
    public static ushort EventFlags => s_depth > 0 ? (ushort)Shared.Transport.EventFlags.DuringAccess : (ushort)0;

    /// <summary>A handler starts.</summary>
    public static void Enter() => s_depth++;

    /// <summary>A handler ended.</summary>
    public static void Exit() => s_depth--;
}
