using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// The launcher's callbacks for a process that does not yet know whose they are: a spare serves them from its start,
/// but only learns which devices it runs (and so where their output may go) when it is taken. Until then its
/// output is dropped: it has no devices, so any output would be a lie.
/// </summary>
internal sealed class DeferredLaunchCallbacks : ILaunchCallbacks
{
    private ILaunchCallbacks? _owner;

    /// <summary>From now on, output goes to <paramref name="owner"/> (the taking device process's gate).</summary>
    public void Assign(ILaunchCallbacks owner) => Volatile.Write(ref _owner, owner);

    /// <inheritdoc/>
    public Task DeviceOutput(string deviceId, long offset, byte[] data) =>
        Volatile.Read(ref _owner)?.DeviceOutput(deviceId, offset, data) ?? Task.CompletedTask;
}
