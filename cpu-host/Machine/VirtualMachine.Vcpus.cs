using System.Runtime.ExceptionServices;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The application processors' threads: one per vCPU after the first, running beside the bootstrap processor's
/// loop (<see cref="Run"/>), parking with it for a pause, and held by it while it resets the machine. Only the
/// bootstrap processor's thread runs the machine's own work (timers, pulse trains, console input, resets, the
/// clock's pace), so everything that was single-threaded before stays so.
/// </summary>
public sealed partial class VirtualMachine
{
    /// <summary>Set while the application processors may run; reset by the bootstrap processor while it resets the machine.</summary>
    private readonly ManualResetEventSlim _applicationProcessorsMayRun = new(initialState: true);

    /// <summary>Application processor threads in their loop now.</summary>
    private int _applicationProcessorsRunning;

    /// <summary>Application processor threads parked by <see cref="HoldApplicationProcessors"/> now.</summary>
    private int _applicationProcessorsHeld;

    /// <summary>The first failure of an application processor's thread (an emulator bug), rethrown by <see cref="Run"/>.</summary>
    private ExceptionDispatchInfo? _applicationProcessorFailure;

    private List<Thread> StartApplicationProcessors()
    {
        List<Thread> threads = [];
        foreach (Vcpu vcpu in _vcpus.Skip(1))
        {
            Thread thread = new(() => RunApplicationProcessor(vcpu))
            {
                IsBackground = true, // a machine that ends never waits for a thread it could not stop
                Name = $"vCPU {vcpu.Index}",
            };
            Interlocked.Increment(ref _applicationProcessorsRunning); // counted before it runs: a hold must wait for it
            thread.Start();
            threads.Add(thread);
        }

        return threads;
    }

    private void JoinApplicationProcessors(List<Thread> threads)
    {
        if (threads.Count == 0)
        {
            return;
        }

        RequestExit(ExitReason.Stopped, ExitCodes.Interrupted, null, "the bootstrap processor stopped"); // no-op when already ended
        foreach (Thread thread in threads)
        {
            thread.Join(); // each ends at its next instruction boundary or device answer (accesses have deadlines)
        }

        _applicationProcessorFailure?.Throw();
    }

    private void RunApplicationProcessor(Vcpu vcpu)
    {
        _apicBus?.EnterVcpu(vcpu.Index); // this thread's accesses to the APIC page reach this vCPU's APIC
        try
        {
            while (Exit is null)
            {
                if (!_applicationProcessorsMayRun.IsSet)
                {
                    HeldForReset();
                    continue;
                }

                if (!_mayRun.IsSet)
                {
                    // A reset the bootstrap processor takes before it parks holds this thread instead.
                    Park(() => _mayRun.IsSet || !_applicationProcessorsMayRun.IsSet);
                    continue;
                }

                vcpu.TakeStartSignals();
                if (vcpu.WaitingForStartup)
                {
                    vcpu.Sleep(HaltSleepLimitMs);
                    continue;
                }

                vcpu.RunDueApicTimer(_clock.Clock.NowNanoseconds);
                CpuRunResult result = vcpu.Cpu.Run(RunSlice);
                switch (result.Reason)
                {
                    case CpuStopReason.Shutdown:
                        RequestExit(ExitReason.CpuShutdown, ExitCodes.GuestCrashed, null, $"triple fault on vCPU {vcpu.Index}");
                        break;
                    case CpuStopReason.Halted:
                        WaitWhileHalted(vcpu);
                        break;
                }
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _applicationProcessorFailure, ExceptionDispatchInfo.Capture(e), null);
            RequestExit(ExitReason.Stopped, ExitCodes.Interrupted, null, $"vCPU {vcpu.Index} failed: {e.Message}");
        }
        finally
        {
            Platform.ApicBus.LeaveVcpu();
            Interlocked.Decrement(ref _applicationProcessorsRunning);
        }
    }

    /// <summary>HLT on an application processor: sleep until an interrupt, its APIC timer, an INIT, a pause or the end.</summary>
    private void WaitWhileHalted(Vcpu vcpu)
    {
        if (vcpu.HasWakeEvent || Exit is not null || !_mayRun.IsSet)
        {
            return;
        }

        long untilTimer = vcpu.ApicTimerDeadline - _clock.Clock.NowNanoseconds;
        int sleepMs = HaltSleepMilliseconds(untilTimer);
        if (sleepMs > 0)
        {
            vcpu.Sleep(sleepMs);
        }
    }

    /// <summary>Parks this vCPU's thread until <paramref name="released"/> or the end; the last to park marks the machine parked.</summary>
    private void Park(Func<bool> released)
    {
        if (Interlocked.Increment(ref _parkedVcpus) == _vcpus.Length)
        {
            _parked.Set();
        }

        try
        {
            while (!released() && Exit is null)
            {
                _mayRun.Wait(HaltSleepLimitMs);
            }
        }
        finally
        {
            _parked.Reset();
            Interlocked.Decrement(ref _parkedVcpus);
        }
    }

    private void HeldForReset()
    {
        Interlocked.Increment(ref _applicationProcessorsHeld);
        try
        {
            while (!_applicationProcessorsMayRun.IsSet && Exit is null)
            {
                _applicationProcessorsMayRun.Wait(HaltSleepLimitMs);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _applicationProcessorsHeld);
        }
    }

    /// <summary>Ends every vCPU's run slice and wakes it. Thread-safe.</summary>
    private void SignalAll()
    {
        foreach (Vcpu vcpu in _vcpus)
        {
            vcpu.Signal();
        }
    }

    /// <summary>
    /// Stops the application processors at an instruction boundary (bootstrap processor's thread) until the returned
    /// hold is disposed, so their CPUs can be reset while no thread runs them.
    /// </summary>
    private ApplicationProcessorHold HoldApplicationProcessors()
    {
        if (_vcpus.Length == 1)
        {
            return default;
        }

        _applicationProcessorsMayRun.Reset();
        foreach (Vcpu vcpu in _vcpus.Skip(1))
        {
            vcpu.Signal();
        }

        SpinWait spin = default;
        while (Volatile.Read(ref _applicationProcessorsHeld) < Volatile.Read(ref _applicationProcessorsRunning) && Exit is null)
        {
            spin.SpinOnce(sleep1Threshold: 20); // each finishes its instruction (or device access) first
        }

        return new ApplicationProcessorHold(_applicationProcessorsMayRun);
    }

    /// <summary>The application processors held by <see cref="HoldApplicationProcessors"/>; disposing lets them run.</summary>
    private readonly struct ApplicationProcessorHold(ManualResetEventSlim mayRun) : IDisposable
    {
        public void Dispose() => mayRun?.Set();
    }
}
