using SplitEmu.CpuHost.Control;
using SplitEmu.DeviceHost.Common;
using SplitEmu.Shared.Processes;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

// The CPU process: connects back to the launcher, builds and runs the machine it is told to, and exits
// when the launcher's connection ends (so it never outlives its launcher).
if (args.Length != 2 || args[0] != "--control")
{
    Console.Error.WriteLine("usage: SplitEmu.CpuHost --control SOCKET (started by splitemu, not by hand)");
    return 2;
}

if (!LauncherTie.DieWithLauncher())
{
    return 1; // the launcher died before this process could tie itself to it
}

// Guest RAM and the rings leave this process only as descriptors passed to the launcher; nothing else may open
// them (or anything of this process) through /proc/PID/fd, mem or ptrace, whatever its user.
ProcessDumpability.Forbid();
Stream stream = await RpcConnection.ConnectAsync(args[1], CancellationToken.None);
using DescriptorChannel descriptors = DescriptorChannel.Connect(args[1]);
JsonRpc rpc = RpcConnection.Create(stream);
OutputForwarder output = new(rpc);
using CpuHostControl control = new(output, descriptors);
rpc.AddLocalRpcTarget(RpcTargetMetadata.FromShape<ICpuHostControl>(), control, null);
rpc.StartListening();
await rpc.Completion.ContinueWith(_ => { }, TaskScheduler.Default);
await output.DisposeAsync();
return 0;
