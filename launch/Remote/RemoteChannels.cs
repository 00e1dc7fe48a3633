namespace SplitEmu.Launch.Remote;

/// <summary>The channels a remote device process's one SSH connection is multiplexed into (Nerdbank.Streams' <c>MultiplexingStream</c>).</summary>
internal static class RemoteChannels
{
    /// <summary>The control plane: <c>IDeviceHostControl</c> one way, <c>ILaunchCallbacks</c> (device output) the other.</summary>
    public const string Control = "control";

    /// <summary>The data plane: <see cref="RemoteFrame"/>s.</summary>
    public const string Data = "data";
}
