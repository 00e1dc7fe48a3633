using SplitEmu.DeviceHost.Hosting;
using SplitEmu.Shared.Processes;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

// The device process: connects back to the launcher, serves devices over the segment it is handed, and
// exits when the launcher's connection ends (so it never outlives its machine). A spare (--spare) warms its
// serving path and its control plane up first, so a restart that takes it costs an attach, not a cold start.
bool spare = args.Length == 3 && args[2] == "--spare";
if (args.Length is not (2 or 3) || args[0] != "--control" || (args.Length == 3 && !spare))
{
    Console.Error.WriteLine("usage: SplitEmu.DeviceHost --control SOCKET [--spare] (started by splitemu, not by hand)");
    return 2;
}

if (!LauncherTie.DieWithLauncher())
{
    return 1; // the launcher died before this process could tie itself to it
}

if (spare)
{
    await using OutputForwarder scratch = new(new JsonRpc(Stream.Null));
    WarmUp.Run(scratch);
    await ControlPlaneRehearsal.RunAsync();
}

Stream stream = await RpcConnection.ConnectAsync(args[1], CancellationToken.None);
using DescriptorChannel descriptors = DescriptorChannel.Connect(args[1]);
JsonRpc rpc = RpcConnection.Create(stream);
DeviceHostControl control = new(rpc, descriptors);
rpc.AddLocalRpcTarget<IDeviceHostControl>(control, null);
rpc.StartListening();
await rpc.Completion.ContinueWith(_ => { }, TaskScheduler.Default);
await control.DisposeAsync();
return 0;
