using System.Reflection;
using SplitEmu.DeviceHost.Hosting;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Rpc;

/// <summary>
/// The control plane's source-generated JSON metadata covers every type its interfaces send, and a spare's
/// rehearsal of an attach goes through the real formatter with the real message types.
/// </summary>
public sealed class ControlPlaneMetadataTests
{
    public static TheoryData<string> ControlInterfaces() =>
        [typeof(ICpuHostControl).FullName!, typeof(IDeviceHostControl).FullName!, typeof(IMonitor).FullName!, typeof(ILaunchCallbacks).FullName!];

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
}
