using SplitEmu.DeviceHost.Hosting;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

// The device process: connects back to the launcher, serves devices over the segment it is handed, and
// exits when the launcher's connection ends (so it never outlives its machine).
if (args.Length != 2 || args[0] != "--control")
{
    Console.Error.WriteLine("usage: SplitEmu.DeviceHost --control SOCKET (started by splitemu, not by hand)");
    return 2;
}

Stream stream = await RpcConnection.ConnectAsync(args[1], CancellationToken.None);
JsonRpc rpc = RpcConnection.Create(stream);
DeviceHostControl control = new(rpc);
rpc.AddLocalRpcTarget<IDeviceHostControl>(control, null);
rpc.StartListening();
await rpc.Completion.ContinueWith(_ => { }, TaskScheduler.Default);
await control.DisposeAsync();
return 0;
