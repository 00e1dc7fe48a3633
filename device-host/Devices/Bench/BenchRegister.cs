using System.Net.Sockets;
using PolyType;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.DeviceHost.Devices.Bench;

/// <summary>
/// The transport benchmark's device: the cheapest possible handler, so a measurement shows the transport and
/// not the model. 32 bytes of MMIO (or, without <c>mmio</c>, 32 I/O ports), 64-bit registers:
/// <c>0x00</c> reads count the reads so far (this one included), <c>0x08</c> the writes handled,
/// <c>0x10</c> the last value written, <c>0x18</c> the sum of the values written; every write counts.
/// A write to <c>0x20</c> (mark) starts a host-side stopwatch the first time and, each later time, appends
/// <c>bench-register: mark READS NANOSECONDS</c> (reads and host time since the first mark) to the file named
/// by config key <c>mark-file</c>, so a guest loop can be timed without process start-up in the measurement.
/// With config key <c>rpc-socket</c> it also connects to that UNIX socket and serves the same registers as
/// JSON-RPC calls (<see cref="IBenchRegisterRpc"/>), for the "one JSON-RPC call per access" baseline.
/// </summary>
public sealed class BenchRegister : IDeviceModel<BenchRegister>, IDisposable
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "bench-register";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: 0, MmioSize: 64, IrqUse.None, CanBeConsole: false, ConfigKeys: ["rpc-socket", "mark-file"])
    {
        ConfigKeyMeanings = new Dictionary<string, string>
        {
            ["rpc-socket"] = "path of a UNIX socket the model serves JSON-RPC on (the benchmark listens there)",
            ["mark-file"] = "file the guest's marks are appended to; without it marks are only counted as writes",
        },
        Summary = "the transport benchmark's register block",
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static BenchRegister Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Bytes (or ports) of the register block.</summary>
    public const ulong RegionSize = 64;

    /// <summary>Register offsets.</summary>
    public const ulong ReadCountRegister = 0x00, WriteCountRegister = 0x08, LastValueRegister = 0x10, SumRegister = 0x18, MarkRegister = 0x20;

    /// <summary>Config key: path of a UNIX socket to serve JSON-RPC on (the benchmark listens there).</summary>
    public const string RpcSocketKey = "rpc-socket";

    /// <summary>Config key: file the marks are appended to (no file: marks are only counted as writes).</summary>
    public const string MarkFileKey = "mark-file";

    /// <summary>Serializes JSON-RPC calls.</summary>
    private readonly Lock _gate = new();
    /// <summary>
    /// The mark file, opened at creation: a sandboxed device process has no file system once it serves
    /// (docs/processes.md, "The sandbox").
    /// </summary>
    private readonly StreamWriter? _marks;
    private long _markTicks;
    private ulong _markReads;
    private ulong _reads;
    private ulong _writes;
    private ulong _last;
    private ulong _sum;

    /// <summary>Creates the device at the profile's MMIO base, or its I/O base if it has no MMIO base.</summary>
    public BenchRegister(DeviceConfig config, IDeviceContext context)
    {
        _ = context;
        if (config.Config.GetValueOrDefault(MarkFileKey) is string markFile)
        {
            _marks = new StreamWriter(new FileStream(markFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        }

        Regions = config.Mmio is ulong mmio
            ? [new DeviceRegionInfo("regs", AddressSpaceKind.Memory, mmio, RegionSize)]
            : [new DeviceRegionInfo("regs", AddressSpaceKind.Io, config.Io ?? 0x520, RegionSize)];
        if (config.Config.TryGetValue(RpcSocketKey, out string? path))
        {
            ServeRpc(path);
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    /// <remarks>No lock: accesses arrive one at a time (see <see cref="IDevice"/>); the JSON-RPC path serializes its own calls.</remarks>
    public ulong Read(int region, ulong offset, int size)
    {
        _reads++;
        return offset switch
        {
            ReadCountRegister => _reads,
            WriteCountRegister => _writes,
            LastValueRegister => _last,
            SumRegister => _sum,
            _ => 0,
        };
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        _writes++;
        _last = value;
        _sum += value;
        if (offset == MarkRegister)
        {
            Mark();
        }
    }

    private void Mark()
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_markTicks == 0)
        {
            _markTicks = now;
            _markReads = _reads;
            return;
        }

        long nanoseconds = (long)((now - _markTicks) * (1e9 / System.Diagnostics.Stopwatch.Frequency));
        _marks?.Write($"bench-register: mark {_reads - _markReads} {nanoseconds}\n");
    }

    /// <inheritdoc/>
    public void Reset()
    {
        _reads = _writes = _last = _sum = 0;
        _markTicks = 0; // a reset machine's next mark starts a new interval, as at power-on
        _markReads = 0;
    }

    /// <summary>Closes the mark file.</summary>
    public void Dispose() => _marks?.Dispose();

    private void ServeRpc(string path)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        JsonRpc rpc = RpcConnection.Create(new NetworkStream(socket, ownsSocket: true));
        rpc.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IBenchRegisterRpc>(), new RpcTarget(this), null);
        rpc.StartListening(); // lives as long as the connection; the benchmark closes it
    }

    /// <summary>JSON-RPC calls may arrive on several pool threads: serialized here. The benchmark never mixes them with ring accesses.</summary>
    private sealed class RpcTarget(BenchRegister device) : IBenchRegisterRpc
    {
        public Task<ulong> ReadAsync(ulong offset)
        {
            lock (device._gate)
            {
                return Task.FromResult(device.Read(0, offset, 8));
            }
        }

        public Task WriteAsync(ulong offset, ulong value)
        {
            lock (device._gate)
            {
                device.Write(0, offset, 8, value);
            }

            return Task.CompletedTask;
        }
    }
}

/// <summary>The bench register's accesses as JSON-RPC calls (one call per access).</summary>
[JsonRpcContract, GenerateShape(IncludeMethods = MethodShapeFlags.PublicInstance)]
public partial interface IBenchRegisterRpc
{
    /// <summary>Reads a register.</summary>
    Task<ulong> ReadAsync(ulong offset);

    /// <summary>Writes a register.</summary>
    Task WriteAsync(ulong offset, ulong value);
}
