using System.Text.Json.Serialization;

namespace SplitEmu.Shared.Rpc;

/// <summary>
/// Source-generated JSON metadata for every type the control plane sends (parameters and results of
/// <see cref="ICpuHostControl"/>, <see cref="IDeviceHostControl"/>, <see cref="IMonitor"/> and
/// <see cref="ILaunchCallbacks"/>). A fresh process then serialises its first message without building the
/// serializer's view of each type by reflection (most of a cold device-process attach), and the native device
/// host needs no runtime code generation. Nothing falls back to reflection (<see cref="RpcConnection.Create"/>):
/// a type missing here fails its call, and ControlPlaneMetadataTests lists what every contract sends.
/// </summary>
[JsonSerializable(typeof(CpuHostSetup))]
[JsonSerializable(typeof(GuestMemoryShare))]
[JsonSerializable(typeof(ChannelRequest))]
[JsonSerializable(typeof(ChannelBinding))]
[JsonSerializable(typeof(MachineExitInfo))]
[JsonSerializable(typeof(CpuExecutionReport))]
[JsonSerializable(typeof(ExitReason))]
[JsonSerializable(typeof(Profiles.GiveUpAction))]
[JsonSerializable(typeof(IReadOnlyList<CrashRecord>))]
[JsonSerializable(typeof(IReadOnlyList<RegionReport>))]
[JsonSerializable(typeof(IReadOnlyList<DeviceAccessStats>))]
[JsonSerializable(typeof(MonitorCpuState))]
[JsonSerializable(typeof(DeviceHostAttachRequest))]
[JsonSerializable(typeof(DeviceHostAttachResult))]
[JsonSerializable(typeof(DeviceHostStopResult))]
[JsonSerializable(typeof(MonitorMachineInfo))]
[JsonSerializable(typeof(IReadOnlyList<MonitorDeviceInfo>))]
[JsonSerializable(typeof(MonitorStats))]
[JsonSerializable(typeof(MonitorCrashResult))]
[JsonSerializable(typeof(MonitorMachineEnded))]
[JsonSerializable(typeof(StreamJsonRpc.Protocol.CommonErrorData))] // a method's exception, as the caller receives it
[JsonSerializable(typeof(StreamJsonRpc.RequestId))]                 // $/cancelRequest
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(ulong))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(byte[]))]
public sealed partial class RpcJsonContext : JsonSerializerContext;
