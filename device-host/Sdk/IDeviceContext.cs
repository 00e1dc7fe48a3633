namespace SplitEmu.DeviceHost.Sdk;

/// <summary>What a device may do to the machine; provided by whichever process hosts it.</summary>
public interface IDeviceContext
{
    /// <summary>The device's id from the profile.</summary>
    string DeviceId { get; }

    /// <summary>Facts about the machine the device is part of (RAM size, CPU count).</summary>
    MachineFacts Machine { get; }

    /// <summary>Drives the device's interrupt line (the profile's irq) to <paramref name="asserted"/>.</summary>
    void SetIrq(bool asserted);

    /// <summary>
    /// Drives ISA interrupt line <paramref name="line"/> (0-15) to <paramref name="asserted"/>: for devices with
    /// fixed lines of their own, like the PIT on 0 or an IDE controller's two channels on 14 and 15.
    /// </summary>
    void SetIrqLine(int line, bool asserted);

    /// <summary>Asks to end the machine with process exit code <paramref name="exitCode"/>.</summary>
    void RequestMachineExit(int exitCode, ulong guestValue);

    /// <summary>
    /// Asks to reset the machine (a reset line: the keyboard controller's, the PCI reset control register): every
    /// device back to its power-on state, in every process, the images loaded again and the CPU at its start
    /// state; guest RAM is kept. Taken at the CPU's next instruction boundary.
    /// </summary>
    void RequestMachineReset();

    /// <summary>Appends to the device's output stream (a UART's transmitted bytes).</summary>
    void Output(ReadOnlySpan<byte> data);

    /// <summary>
    /// True while the device's output stream is further ahead of its reader (the console, a log file) than the
    /// machine buffers: a device that can hold its output back (a UART's transmitter) should, until this turns
    /// false, as a real UART waits for a slow line. Output written regardless is kept up to a bound, then lost.
    /// </summary>
    bool OutputBackedUp => false;

    /// <summary>
    /// Asks to move, hide, show or remove region <paramref name="region"/> of this device. Called from inside a
    /// handler, the change is applied after that access completes and before the guest's next instruction;
    /// never a deadlock, never a stale map for the next instruction.
    /// </summary>
    void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0);

    /// <summary>The machine clock in nanoseconds (monotonic; the same clock in every process of the machine).</summary>
    long NowNanoseconds { get; }

    /// <summary>
    /// When the guest made the access being handled, on <see cref="NowNanoseconds"/>'s clock; outside an access (a
    /// timer callback) it is <see cref="NowNanoseconds"/>. A posted write may reach the device after the guest went
    /// on, and a successor replays its predecessor's accesses long after they were made: a model that times its
    /// effects from here (an 8254's count, the PM timer's reading) is unmoved by posting and replays exactly.
    /// </summary>
    long AccessNanoseconds => NowNanoseconds;

    /// <summary>
    /// Arms the device's one timer for <paramref name="deadlineNanoseconds"/> on <see cref="NowNanoseconds"/>'s
    /// clock, replacing any earlier deadline. When it passes, <see cref="ITimedDevice.OnTimer"/> runs on the
    /// device's thread, between accesses (never during one). A deadline in the past fires at once.
    /// </summary>
    void SetTimer(long deadlineNanoseconds);

    /// <summary>Disarms the device's timer.</summary>
    void CancelTimer();

    /// <summary>
    /// Has the machine pulse ISA line <paramref name="line"/> by itself at every pulse of <paramref name="train"/>
    /// (the line rises and falls, so an edge-triggered PIC latches one interrupt each), replacing the line's
    /// earlier train, until <see cref="CancelPulseTrain"/>. For a periodic interrupt the guest counts (an 8254's
    /// system timer): the CPU process delivers each pulse on its own thread, on time in machine time, however
    /// this process is scheduled, and goes on through a restart of it. A pulse at or before the line's last one
    /// is never delivered twice, so restating the same train (after a restore) changes nothing.
    /// </summary>
    void SetPulseTrain(int line, PulseTrain train);

    /// <summary>Stops the pulse train of ISA line <paramref name="line"/>, if any.</summary>
    void CancelPulseTrain(int line);

    /// <summary>
    /// Bus-master read of guest memory at <paramref name="address"/> into <paramref name="destination"/>. False,
    /// with nothing read, when any byte lies outside the windows the CPU process granted this device.
    /// </summary>
    bool DmaRead(ulong address, Span<byte> destination);

    /// <summary>
    /// Bus-master write of <paramref name="source"/> to guest memory at <paramref name="address"/>. False, with
    /// nothing written, when any byte lies outside the granted windows. The CPU drops stale decoded code there.
    /// </summary>
    bool DmaWrite(ulong address, ReadOnlySpan<byte> source);
}
