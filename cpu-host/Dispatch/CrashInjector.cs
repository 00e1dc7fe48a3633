using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>Decides, per guest access to one device, whether to kill its process now (access-based injection).</summary>
internal sealed class CrashInjector(CrashConfig? config)
{
    private long _accesses;
    private int _crashes;
    private bool _offsetFired;

    /// <summary>Crashes injected so far.</summary>
    public int Crashes => _crashes;

    /// <summary>
    /// Counts a guest access or a console input (not a replay, not a re-issue) and says whether to kill the device
    /// while it is in flight. An input has no offset, so only the counts can pick it.
    /// </summary>
    public bool ShouldKill(in RingMessage request)
    {
        if (config is null || (config.MaxCrashes is int max && _crashes >= max))
        {
            return false;
        }

        long n = ++_accesses;
        bool kill = config.AtAccess == n
            || (config.EveryAccesses is long k && k > 0 && n % k == 0)
            || (config.OnOffset is ulong offset && offset == request.Offset && request.Kind != MessageKind.Input && !_offsetFired);
        if (kill)
        {
            _offsetFired |= config.OnOffset == request.Offset && request.Kind != MessageKind.Input;
            _crashes++;
        }

        return kill;
    }
}
