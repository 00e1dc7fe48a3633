using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Crash;

/// <summary>
/// A UART's output across a crash and restore: the successor replays its predecessor's accesses and re-emits their
/// bytes, which the launcher already has. Whether the launcher acknowledges them quickly or not (a launcher on a
/// loaded machine, a console reader that lags), the replay must do what the predecessor did: a replay that held or
/// lost bytes because of its own backlog read the line status differently (divergences) and moved the stream's
/// offsets under the launcher's, which then dropped as duplicates the guest's next bytes (chunks missing from the
/// console). Real device process, real ring, real kill; the launcher's acknowledgements are held at a gate.
/// </summary>
[Trait("Category", "Slow")] // starts processes
public sealed class OutputAcrossRestartTests
{
    private const ushort Com1 = 0x3F8;
    private const ushort LineStatus = Com1 + 5;
    private const byte TransmitterHoldingEmpty = 0x20;

    /// <summary>More than the device's backlog limit, so a replay that looks at its own backlog sees it backed up.</summary>
    private const int BytesBeforeTheCrash = 6000;

    /// <summary>Taken by the launcher before the next chunk: the first incarnation's backlog stays far below its limit.</summary>
    private const int Chunk = 1000;

    private const int BytesAfterTheCrash = 200;

    [Fact]
    public async Task ARestoredUart_ReplaysItsBytesAsItSentThem_WhileTheLauncherHasNotTakenThemAgain_AndTheStreamGoesOnExactly()
    {
        // One snapshot (at power-on): the successor replays every access, and re-emits every byte.
        DeviceConfig uart = new() { Id = "com1", Type = Uart16550.TypeName, Io = Com1, Irq = 4, Placement = Placement.Isolated, SnapshotEvery = 100_000 };
        using MemoryStream received = new();
        using ConsoleRouter router = new(null, Stream.Null, new Dictionary<string, Stream> { ["com1"] = received });
        GatedLauncher launcher = new(router);
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(uart), launcher: launcher);
        byte[] expected = [.. Enumerable.Range(0, BytesBeforeTheCrash + BytesAfterTheCrash).Select(i => (byte)('!' + (i % 90)))];

        for (int from = 0; from < BytesBeforeTheCrash; from += Chunk)
        {
            await TransmitAsync(harness, expected.AsMemory(from, Chunk));
            await router.WaitForAsync("com1", from + Chunk, TestDeadlines.Seconds(30));
        }

        // The launcher stops acknowledging (it is slow, or its console's reader lags): the successor's replayed bytes
        // stay in its backlog, past its limit, while it replays.
        launcher.Hold();
        await harness.RestartAsync();
        CrashRecord crash = Assert.Single(harness.Machine.CrashRecords());
        Assert.True(crash.Replayed >= 2 * BytesBeforeTheCrash, $"{crash.Replayed} accesses replayed"); // every write and line-status read
        Assert.Equal(0, crash.Divergences); // the line-status reads answered as the first time
        launcher.Release();

        await TransmitAsync(harness, expected.AsMemory(BytesBeforeTheCrash));
        await router.WaitForAsync("com1", expected.Length, TestDeadlines.Seconds(30));
        byte[] console = received.ToArray(); // written under the router's gate, before it counted the bytes as received
        Assert.True(console.AsSpan().SequenceEqual(expected),
            $"the console got {console.Length} of {expected.Length} bytes; first wrong at {console.AsSpan().CommonPrefixLength(expected)}");
    }

    /// <summary>Each byte as a polling driver sends it: wait for the holding register to be empty, write it, read the line status.</summary>
    private static Task TransmitAsync(IsolatedDeviceHarness harness, ReadOnlyMemory<byte> bytes) => Task.Run(() =>
    {
        foreach (byte b in bytes.Span)
        {
            Assert.True(ProcessTable.WaitUntil(() => (harness.Machine.Bus.ReadPort(LineStatus, 1) & TransmitterHoldingEmpty) != 0, TestDeadlines.Seconds(30)),
                "the UART's line stayed busy");
            harness.Machine.Bus.WritePort(Com1, 1, b); // posted: the next line-status read follows it through the ring
        }

        _ = harness.Machine.Bus.ReadPort(LineStatus, 1); // and the last write reaches the device
    }).WaitAsync(TestDeadlines.Minutes(2));

    /// <summary>The launcher's side, with its acknowledgements held while the test says so.</summary>
    private sealed class GatedLauncher(ILaunchCallbacks inner) : ILaunchCallbacks
    {
        private volatile TaskCompletionSource _open = Open();

        public void Hold() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _open.TrySetResult();

        public async Task DeviceOutput(string deviceId, long offset, byte[] data)
        {
            await _open.Task.ConfigureAwait(false);
            await inner.DeviceOutput(deviceId, offset, data).ConfigureAwait(false);
        }

        private static TaskCompletionSource Open()
        {
            TaskCompletionSource open = new(TaskCreationOptions.RunContinuationsAsynchronously);
            open.TrySetResult();
            return open;
        }
    }
}
