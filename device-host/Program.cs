using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.DeviceHost.Hosting;
using SplitEmu.DeviceHost.Hosting.Sandbox;
using SplitEmu.Shared.Processes;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

// The device process: connects back to the launcher, serves devices over the segment it is handed, and
// exits when the launcher's connection ends (so it never outlives its machine). A spare (--spare) warms its
// serving path and its control plane up first, so a restart that takes it costs an attach, not a cold start.
string[] flags = args.Length >= 2 ? args[2..] : [];
bool spare = flags.Contains("--spare");
bool sandboxed = flags.Contains(DeviceSandbox.Flag);
if (args.Length < 2 || args[0] != "--control" || flags.Any(f => f is not ("--spare" or DeviceSandbox.Flag)))
{
    Console.Error.WriteLine($"usage: SplitEmu.DeviceHost --control SOCKET [--spare] [{DeviceSandbox.Flag}] (started by splitemu, not by hand)");
    return 2;
}

if (!LauncherTie.DieWithLauncher())
{
    return 1; // the launcher died before this process could tie itself to it
}

// It will hold its ring and maybe guest RAM: no other process of the user may open them through /proc, also
// with the sandbox off (in the sandbox its lock-down does this too).
ProcessDumpability.Forbid();

if (spare)
{
    await using OutputForwarder scratch = new(RpcConnection.Create(Stream.Null));
    WarmUp.Run(scratch);
    await ControlPlaneRehearsal.RunAsync();
}

Stream stream = await RpcConnection.ConnectAsync(args[1], CancellationToken.None);
using DescriptorChannel descriptors = DescriptorChannel.Connect(args[1]);
JsonRpc rpc = RpcConnection.Create(stream);
DeviceHostControl control = new(rpc, descriptors) { Sandboxed = sandboxed };
rpc.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IDeviceHostControl>(), control, null);
rpc.StartListening();
await rpc.Completion.ContinueWith(_ => { }, TaskScheduler.Default);
await control.DisposeAsync();
return 0;
