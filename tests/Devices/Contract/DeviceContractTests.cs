using SplitEmu.DeviceHost.Devices;
using SplitEmu.DeviceHost.Devices.Rtc;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Devices.Legacy;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Contract;

/// <summary>
/// The device contract (DESIGN.md section 5: placement is configuration, not code): every model of the catalog,
/// hosted by a placement, answers, counts and fails exactly as the same model called directly
/// (<see cref="ModelCalledDirectly"/>). One subclass per placement: inline in the CPU process
/// (<see cref="InProcessDeviceContractTests"/>) and served over a shared-memory ring
/// (<see cref="OverRingDeviceContractTests"/>), so a difference between the two is a failure of one of them.
/// Both placements give the model the same kind of context (a <see cref="FakeDeviceContext"/> whose clock stands
/// still, a fixed wall clock for the RTC), so every answer is deterministic: the contract is the host's part.
/// </summary>
public abstract class DeviceContractTests
{
    /// <summary>The device id every placement hosts the model under.</summary>
    protected const string DeviceId = "dev";

    /// <summary>Steps of the generated write/read script: enough to reach every small register a few times.</summary>
    private const int ScriptSteps = 300;

    /// <summary>The part of each region the scripts touch: the registers of a legacy device, the head of a PCI config space.</summary>
    private const ulong ProbedBytes = 16;

    /// <summary>The RTC's wall clock, fixed so its time registers read the same in every run.</summary>
    private static readonly DateTimeOffset s_wallTime = new(2026, 12, 3, 10, 20, 30, TimeSpan.Zero);

    /// <summary>
    /// Writes the scripts leave out, each with why: they would make a run slow, not different. (Written values are
    /// one byte, so a testdev's map-change register never reaches its sandbox probes at 0x200 and up.)
    /// </summary>
    private static readonly (string Type, int Region, ulong Offset, string Why)[] s_unscriptedWrites =
    [
        (TestDevice.TypeName, 0, TestDevice.StallRegister, "stalls the handler for the value in milliseconds"),
    ];

    /// <summary>Hosts <paramref name="model"/> as this placement does.</summary>
    protected abstract IPlacedDevice Place(IDevice model);

    /// <summary>Every device type the catalog builds.</summary>
    public static TheoryData<string> CatalogTypes() => [.. DeviceCatalog.ModelTypeNames.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(CatalogTypes))]
    public Task ResetState_ReadsAsTheModelCalledDirectly(string type) =>
        AssertPlacedAsCalledDirectly(type, device => Run(device, Probe(type)));

    [Theory]
    [MemberData(nameof(CatalogTypes))]
    public Task WritesAndReads_AnswerAndCountAsTheModelCalledDirectly(string type) =>
        AssertPlacedAsCalledDirectly(type, device => Run(device, Script(type)));

    [Theory]
    [MemberData(nameof(CatalogTypes))]
    public Task Reset_AfterWrites_ReadsAsTheModelResetDirectly(string type) =>
        AssertPlacedAsCalledDirectly(type, device =>
        {
            Run(device, Script(type));
            device.Reset();
            return Run(device, Probe(type));
        });

    /// <summary>Console input offered until the device is full (a UART's receive FIFO): its taking and its refusing.</summary>
    [Theory]
    [MemberData(nameof(CatalogTypes))]
    public Task ConsoleInput_IsTakenAsTheModelCalledDirectly(string type) =>
        AssertPlacedAsCalledDirectly(type, device => Enumerable.Range(0, 4).Select(_ => device.Input(0, "contract\r\n"u8)).ToArray());

    [Theory]
    [MemberData(nameof(CatalogTypes))]
    public async Task HandlerThatThrows_FailsTheAccessAsABusError_AndTheNextAccessIsServed(string type)
    {
        ThrowingDevice model = new(CreateModel(type));
        await using IPlacedDevice placed = Place(model);

        model.Throwing = true;
        ulong failedRead = placed.Read(0, 0, 4);
        placed.Write(0, 0, 1, 0x5A);
        model.Throwing = false;
        placed.Read(0, 0, 1);

        Assert.Equal(0xFFFF_FFFFUL, failedRead);
        Assert.Equal(0, model.WritesReached);
        Assert.Equal((Reads: 1L, Writes: 0L, BusErrors: 2L, AccessesAfterGone: 0L), Counters(placed.Stats()));
    }

    [Theory]
    [MemberData(nameof(CatalogTypes))]
    public async Task AccessesToARegionToldGone_AreCounted_UntilItIsBack(string type)
    {
        await using IPlacedDevice placed = Place(CreateModel(type));

        placed.SetRegionGone(0, gone: true);
        placed.Read(0, 0, 1);
        placed.Write(0, 0, 1, 0);
        placed.SetRegionGone(0, gone: false);
        placed.Read(0, 0, 1);

        Assert.Equal(2, placed.Stats().AccessesAfterGone);
    }

    /// <summary>
    /// Runs <paramref name="act"/> on a fresh <paramref name="type"/> called directly and on one this placement hosts:
    /// the answers and the counters must be the same.
    /// </summary>
    private async Task AssertPlacedAsCalledDirectly<T>(string type, Func<IPlacedDevice, T[]> act)
    {
        await using IPlacedDevice reference = new ModelCalledDirectly(CreateModel(type));
        await using IPlacedDevice placed = Place(CreateModel(type));

        T[] expected = act(reference);
        T[] actual = act(placed);

        Assert.Equal(expected, actual);
        Assert.Equal(Counters(reference.Stats()), Counters(placed.Stats()));
    }

    /// <summary>A fresh model of <paramref name="type"/> on its own fake machine.</summary>
    protected static IDevice CreateModel(string type)
    {
        DeviceConfig config = new() { Id = DeviceId, Type = type };
        FakeDeviceContext context = new(DeviceId);
        return type == CmosRtc.TypeName
            ? new CmosRtc(config, context, new SettableTimeProvider(s_wallTime))
            : DeviceCatalog.Create(config, context);
    }

    /// <summary>What a placement's counters say, without its id and output (the contract covers accesses).</summary>
    protected static (long Reads, long Writes, long BusErrors, long AccessesAfterGone) Counters(DeviceAccessStats stats) =>
        (stats.Reads, stats.Writes, stats.BusErrors, stats.AccessesAfterGone);

    /// <summary>Runs <paramref name="steps"/> against <paramref name="device"/>: the answer of each read, in order.</summary>
    protected static ulong[] Run(IPlacedDevice device, IEnumerable<Step> steps)
    {
        List<ulong> answers = [];
        foreach (Step step in steps)
        {
            if (step.IsWrite)
            {
                device.Write(step.Region, step.Offset, step.Size, step.Value);
            }
            else
            {
                answers.Add(device.Read(step.Region, step.Offset, step.Size));
            }
        }

        return [.. answers];
    }

    /// <summary>One byte read at each of the first bytes of every region of a fresh <paramref name="type"/>.</summary>
    protected static Step[] Probe(string type)
    {
        IReadOnlyList<DeviceRegionInfo> regions = CreateModel(type).Regions;
        return [.. regions.SelectMany((r, i) => Enumerable.Range(0, (int)Math.Min(r.Size, ProbedBytes)).Select(o => new Step(false, i, (ulong)o, 1, 0)))];
    }

    /// <summary>
    /// A fixed pseudo-random mix of aligned 1-, 2- and 4-byte reads and one-byte-valued writes over the first bytes of
    /// every region of <paramref name="type"/>, the same on every run.
    /// </summary>
    protected static Step[] Script(string type)
    {
        IReadOnlyList<DeviceRegionInfo> regions = CreateModel(type).Regions;
        Random random = new(20_261_203);
        List<Step> steps = [];
        while (steps.Count < ScriptSteps)
        {
            int region = random.Next(regions.Count);
            ulong span = Math.Min(regions[region].Size, ProbedBytes);
            int size = (int)Math.Min(span, 1UL << random.Next(3));
            ulong offset = (ulong)(random.Next((int)(span / (ulong)size)) * size);
            bool write = random.Next(2) == 0;
            Step step = new(write, region, offset, size, (ulong)random.Next(256));
            if (!write || !s_unscriptedWrites.Any(u => u.Type == type && u.Region == region && u.Offset == offset))
            {
                steps.Add(step);
            }
        }

        return [.. steps];
    }

    /// <summary>One access of a script.</summary>
    protected readonly record struct Step(bool IsWrite, int Region, ulong Offset, int Size, ulong Value);

    /// <summary>A model whose accesses throw while <see cref="Throwing"/> (a model bug, on command).</summary>
    private sealed class ThrowingDevice(IDevice inner) : IDevice, IDisposable
    {
        public bool Throwing { get; set; }

        public int WritesReached { get; private set; }

        public IReadOnlyList<DeviceRegionInfo> Regions => inner.Regions;

        public ulong Read(int region, ulong offset, int size) =>
            Throwing ? throw new InvalidOperationException("injected model failure") : inner.Read(region, offset, size);

        public void Write(int region, ulong offset, int size, ulong value)
        {
            if (Throwing)
            {
                throw new InvalidOperationException("injected model failure");
            }

            WritesReached++;
            inner.Write(region, offset, size, value);
        }

        public void Reset() => inner.Reset();

        public void Dispose() => (inner as IDisposable)?.Dispose();
    }
}
