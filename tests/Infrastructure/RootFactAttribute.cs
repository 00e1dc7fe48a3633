using SplitEmu.Launch.Host;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// A fact that needs root (to give a file to another uid, as another user's planted file would be); skipped,
/// with the reason, when the suite runs as anyone else. The checks it exercises also have root-free tests.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    /// <summary>Skips unless the effective uid is 0.</summary>
    public RootFactAttribute()
    {
        if (UnixFileStatus.CurrentUserId != 0)
        {
            Skip = "needs root to chown a file to another uid";
        }
    }
}
