using System.Reflection;
using Nerdbank.Streams;
using SplitEmu.DeviceHost.Hosting;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;
using StreamJsonRpc;

namespace SplitEmu.Tests.Rpc;

/// <summary>
/// The control plane's source-generated JSON metadata covers every type its interfaces send, a spare's
/// rehearsal of an attach goes through the real formatter with the real message types, and what StreamJsonRpc
/// sends of its own (a method's exception, a cancellation) still crosses a connection made the real way.
/// </summary>
public sealed class ControlPlaneMetadataTests
{
    public static TheoryData<string> ControlInterfaces() =>
        [typeof(ICpuHostControl).FullName!, typeof(IDeviceHostControl).FullName!, typeof(IMonitor).FullName!, typeof(ILaunchCallbacks).FullName!, typeof(IRemoteDma).FullName!];

    [Theory]
    [MemberData(nameof(ControlInterfaces))]
    public void EveryParameterAndResult_HasSourceGeneratedMetadata(string interfaceName)
    {
        Type contract = typeof(RpcJsonContext).Assembly.GetType(interfaceName)!;
        List<string> missing = [];
        foreach (MethodInfo method in contract.GetMethods())
        {
            IEnumerable<Type> sent = method.GetParameters().Select(p => p.ParameterType).Where(t => t != typeof(CancellationToken));
            if (method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(Task<>))
            {
                sent = sent.Append(method.ReturnType.GetGenericArguments()[0]);
            }

            missing.AddRange(sent.Where(t => RpcJsonContext.Default.GetTypeInfo(t) is null).Select(t => $"{method.Name}: {t}"));
        }

        Assert.True(missing.Count == 0, "add to RpcJsonContext: " + string.Join("; ", missing));
    }

    [Fact]
    public async Task SpareRehearsal_AttachesAndStops_OverTheRealFormatter()
    {
        Task rehearsal = ControlPlaneRehearsal.RunAsync();
        Task first = await Task.WhenAny(rehearsal, Task.Delay(TestDeadlines.Seconds(30)));

        Assert.Same(rehearsal, first);
        await rehearsal; // rethrows what the formatter or the dispatch refused
    }

    [Fact]
    public async Task AMethodsException_ReachesTheCaller_AsARemoteInvocationException()
    {
        (JsonRpc caller, JsonRpc served) = Connect(new Refusing());
        using (caller)
        using (served)
        {
            IDeviceHostControl control = caller.Attach<IDeviceHostControl>();
            RemoteInvocationException refused = await Assert.ThrowsAsync<RemoteInvocationException>(
                () => control.AttachAsync(new DeviceHostAttachRequest { SegmentDescriptor = 1, Devices = [] }));

            Assert.Contains("the disk image is not a disk", refused.Message, StringComparison.Ordinal);
            Assert.False(caller.IsDisposed); // the connection survives a refused call
        }
    }

    [Fact]
    public async Task ACancelledCall_IsCancelledOnTheServingSide()
    {
        Refusing target = new();
        (JsonRpc caller, JsonRpc served) = Connect(target);
        using (caller)
        using (served)
        {
            IDeviceHostControl control = caller.Attach<IDeviceHostControl>();
            using CancellationTokenSource cancel = new();
            Task stop = control.StopAsync(cancel.Token);
            Assert.Same(target.StopStarted.Task, await Task.WhenAny(target.StopStarted.Task, Task.Delay(TestDeadlines.Seconds(30))));
            await cancel.CancelAsync();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stop);
            Assert.Same(target.StopCancelled.Task, await Task.WhenAny(target.StopCancelled.Task, Task.Delay(TestDeadlines.Seconds(30))));
        }
    }

    private static (JsonRpc Caller, JsonRpc Served) Connect(IDeviceHostControl target)
    {
        (Stream callerEnd, Stream servedEnd) = FullDuplexStream.CreatePair();
        JsonRpc served = RpcConnection.Create(servedEnd);
        served.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IDeviceHostControl>(), target, null);
        served.StartListening();
        JsonRpc caller = RpcConnection.Create(callerEnd);
        caller.StartListening();
        return (caller, served);
    }

    private sealed class Refusing : IDeviceHostControl
    {
        public TaskCompletionSource StopStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource StopCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<DeviceHostAttachResult> AttachAsync(DeviceHostAttachRequest request, CancellationToken cancellationToken = default) =>
            throw new InvalidDataException("the disk image is not a disk");

        public async Task<DeviceHostStopResult> StopAsync(CancellationToken cancellationToken = default)
        {
            StopStarted.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                StopCancelled.TrySetResult();
                throw;
            }

            return new DeviceHostStopResult { Devices = [] };
        }
    }
}
