using static SplitEmu.Tests.Devices.Serial.UartRig;

namespace SplitEmu.Tests.Devices.Serial;

/// <summary>
/// The 16550's registers as the National Semiconductor PC16550D datasheet defines them: the divisor latch behind
/// DLAB, the scratch register, IER, IIR's priorities and FIFO bits, LSR, MCR loopback and MSR, the interrupt line
/// as a PC wires it (through OUT2), and the power-on values a reset restores.
/// </summary>
public sealed class Uart16550RegisterTests
{
    // IIR: bits 0-3 identify the highest-priority pending interrupt (bit 0 set: none); bits 6-7 say the FIFOs are on.
    private const byte NoInterrupt = 0x01, LineStatusInterrupt = 0x06, ReceivedDataInterrupt = 0x04;
    private const byte TransmitterEmptyInterrupt = 0x02, ModemStatusInterrupt = 0x00, FifosEnabled = 0xC0;

    // IER bits.
    private const byte EnableReceivedData = 0x01, EnableTransmitterEmpty = 0x02;
    private const byte EnableLineStatus = 0x04, EnableModemStatus = 0x08;

    // LSR bits.
    private const byte DataReady = 0x01, OverrunError = 0x02, HoldingRegisterEmpty = 0x20, TransmitterEmpty = 0x40;

    // MCR bits.
    private const byte Dtr = 0x01, Rts = 0x02, Out1 = 0x04, Out2 = 0x08, Loop = 0x10;

    // MSR bits: deltas in 0-3, lines in 4-7.
    private const byte DeltaCts = 0x01, DeltaDsr = 0x02, TrailingEdgeRi = 0x04, DeltaDcd = 0x08;
    private const byte Cts = 0x10, Dsr = 0x20, Ri = 0x40, Dcd = 0x80;

    private const byte DivisorLatchAccess = 0x80, EightDataBits = 0x03;

    private readonly UartRig _rig = new();

    [Fact]
    public void Dlab_SwitchesOffsetsZeroAndOne_ToTheDivisorLatch_AndBack_LeavingRbrThrAndIerAlone()
    {
        _rig.Write(InterruptEnable, EnableReceivedData | EnableLineStatus);
        _rig.Uart.AcceptInput("r"u8);

        _rig.Write(LineControl, DivisorLatchAccess | EightDataBits);
        _rig.Write(DivisorLow, 0x01);  // 115200 baud
        _rig.Write(DivisorHigh, 0x02);

        Assert.Equal(DivisorLatchAccess | EightDataBits, _rig.Read(LineControl));
        Assert.Equal(0x01, _rig.Read(DivisorLow));
        Assert.Equal(0x02, _rig.Read(DivisorHigh));
        Assert.Empty(_rig.Context.OutputBytes);                         // writing DLL transmitted nothing
        Assert.Equal(DataReady, _rig.Read(LineStatus) & DataReady);     // reading DLL took no received byte

        _rig.Write(LineControl, EightDataBits);

        Assert.Equal(EnableReceivedData | EnableLineStatus, _rig.Read(InterruptEnable));
        Assert.Equal((byte)'r', _rig.Read(Data));
        _rig.Write(Data, (byte)'t');
        Assert.Equal("t"u8.ToArray(), _rig.Context.OutputBytes);

        _rig.Write(LineControl, DivisorLatchAccess | EightDataBits);    // the latch kept its value meanwhile
        Assert.Equal(0x01, _rig.Read(DivisorLow));
        Assert.Equal(0x02, _rig.Read(DivisorHigh));
    }

    [Fact]
    public void Scratch_KeepsWhatWasWritten()
    {
        _rig.Write(Scratch, 0xA5);
        _rig.Write(LineControl, EightDataBits);
        _rig.Write(ModemControl, Dtr | Rts);
        _rig.Send("x");

        Assert.Equal(0xA5, _rig.Read(Scratch));
        _rig.Write(Scratch, 0x5A);
        Assert.Equal(0x5A, _rig.Read(Scratch));
    }

    [Fact]
    public void Ier_KeepsOnlyItsFourDefinedBits()
    {
        _rig.Write(InterruptEnable, 0xFF);

        Assert.Equal(0x0F, _rig.Read(InterruptEnable));
    }

    [Fact]
    public void Iir_WithNothingPending_ReportsNoInterrupt()
    {
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));

        _rig.Uart.AcceptInput("k"u8); // data waits, but its interrupt is not enabled

        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void Iir_ReportsLineStatus_ThenReceivedData_ThenTransmitterEmpty_ThenModemStatus()
    {
        _rig.Write(ModemControl, Loop | Out2);   // in loopback OUT2 drives DCD: a modem status change
        _rig.Write(InterruptEnable, 0x0F);       // all four; the empty transmitter raises THRE at once
        _rig.Uart.Receive("ab"u8);               // FIFO off: the second byte overruns the holding register

        Assert.Equal(LineStatusInterrupt, _rig.Read(InterruptId));
        _rig.Read(LineStatus);                   // clears the overrun
        Assert.Equal(ReceivedDataInterrupt, _rig.Read(InterruptId));
        _rig.Read(Data);                         // takes the byte
        Assert.Equal(TransmitterEmptyInterrupt, _rig.Read(InterruptId)); // and this read clears THRE
        Assert.Equal(ModemStatusInterrupt, _rig.Read(InterruptId));
        _rig.Read(ModemStatus);                  // clears the delta
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void ReadingIir_WhenItReportsTransmitterEmpty_ClearsThatInterrupt()
    {
        _rig.Write(InterruptEnable, EnableTransmitterEmpty);

        Assert.Equal(TransmitterEmptyInterrupt, _rig.Read(InterruptId));
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void ReadingIir_WhileAHigherPriorityHidesTransmitterEmpty_LeavesItPending()
    {
        _rig.Write(InterruptEnable, EnableReceivedData | EnableTransmitterEmpty);
        _rig.Uart.AcceptInput("k"u8);

        Assert.Equal(ReceivedDataInterrupt, _rig.Read(InterruptId));
        _rig.Read(Data);

        Assert.Equal(TransmitterEmptyInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void EnablingTheTransmitterEmptyInterrupt_WithTheTransmitterEmpty_RaisesIt()
    {
        _rig.Write(ModemControl, Out2);
        Assert.False(_rig.IrqLevel);

        _rig.Write(InterruptEnable, EnableTransmitterEmpty);

        Assert.True(_rig.IrqLevel);
        Assert.Equal(TransmitterEmptyInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void WritingThr_AfterTheTransmitterEmptyInterruptWasTaken_RaisesItAgainOnceTheByteLeaves()
    {
        _rig.Write(InterruptEnable, EnableTransmitterEmpty);
        _rig.Read(InterruptId);

        _rig.Send("x");

        Assert.Equal(TransmitterEmptyInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void IirFifoBits_FollowFcrBitZero()
    {
        Assert.Equal(0, _rig.Read(InterruptId) & FifosEnabled);

        _rig.Write(FifoControl, 0xC7); // enable, clear both, trigger level 14

        Assert.Equal(FifosEnabled | NoInterrupt, _rig.Read(InterruptId)); // FCR is write-only: IIR reads back
        _rig.Write(FifoControl, 0x00);
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void Lsr_ReportsTheTransmitterEmpty_AtPowerOn_AndAfterAWrite()
    {
        Assert.Equal(HoldingRegisterEmpty | TransmitterEmpty, _rig.Read(LineStatus));

        _rig.Send("x");

        Assert.Equal(HoldingRegisterEmpty | TransmitterEmpty, _rig.Read(LineStatus));
    }

    [Fact]
    public void Lsr_ReportsThreAndTemtClear_WhileAWrittenByteWaits_AndSet_OnceItDrains()
    {
        _rig.Context.OutputBackedUp = true;
        _rig.Send("x");

        Assert.Equal(0, _rig.Read(LineStatus) & (HoldingRegisterEmpty | TransmitterEmpty));

        _rig.Context.OutputBackedUp = false;

        Assert.Equal(HoldingRegisterEmpty | TransmitterEmpty, _rig.Read(LineStatus));
        Assert.Equal("x"u8.ToArray(), _rig.Context.OutputBytes);
    }

    [Fact]
    public void LsrDataReady_FollowsTheReceivedData()
    {
        _rig.Write(FifoControl, 0x01);
        Assert.Equal(0, _rig.Read(LineStatus) & DataReady);

        _rig.Uart.AcceptInput("ab"u8);

        Assert.Equal(DataReady, _rig.Read(LineStatus) & DataReady);
        _rig.Read(Data);
        Assert.Equal(DataReady, _rig.Read(LineStatus) & DataReady);
        _rig.Read(Data);
        Assert.Equal(0, _rig.Read(LineStatus) & DataReady);
    }

    [Fact]
    public void AnOverrun_ShowsInLsrAndRaisesTheLineStatusInterrupt_UntilLsrIsRead()
    {
        _rig.Write(InterruptEnable, EnableLineStatus);
        _rig.Uart.Receive("ab"u8); // FIFO off: one holding register

        Assert.Equal(LineStatusInterrupt, _rig.Read(InterruptId));
        Assert.Equal(DataReady | OverrunError | HoldingRegisterEmpty | TransmitterEmpty, _rig.Read(LineStatus));
        Assert.Equal(DataReady | HoldingRegisterEmpty | TransmitterEmpty, _rig.Read(LineStatus));
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));
        Assert.Equal((byte)'a', _rig.Read(Data)); // the holding register kept the first byte
    }

    [Fact]
    public void Loopback_RoutesThrToRbr_AndNothingLeavesOnTheLine()
    {
        _rig.Write(ModemControl, Loop);

        _rig.Send("q");

        Assert.Empty(_rig.Context.OutputBytes);
        Assert.Equal(DataReady, _rig.Read(LineStatus) & DataReady);
        Assert.Equal((byte)'q', _rig.Read(Data));
    }

    [Theory]
    [InlineData(Dtr, Dsr)]
    [InlineData(Rts, Cts)]
    [InlineData(Out1, Ri)]
    [InlineData(Out2, Dcd)]
    public void Loopback_MsrLines_ReflectMcrsOutputs(byte output, byte line)
    {
        _rig.Write(ModemControl, Loop);
        _rig.Read(ModemStatus);

        _rig.Write(ModemControl, (byte)(Loop | output));

        Assert.Equal(line, _rig.Read(ModemStatus) & 0xF0);
    }

    [Fact]
    public void Loopback_MsrDeltas_RecordTheChangesOfCtsDsrAndDcd_AndClearOnRead()
    {
        _rig.Write(ModemControl, Loop);
        _rig.Read(ModemStatus);

        _rig.Write(ModemControl, Loop | Dtr | Rts | Out2);

        Assert.Equal(Cts | Dsr | Dcd | DeltaCts | DeltaDsr | DeltaDcd, _rig.Read(ModemStatus));
        Assert.Equal(Cts | Dsr | Dcd, _rig.Read(ModemStatus));
    }

    [Fact]
    public void Loopback_MsrTeri_RecordsOnlyTheTrailingEdgeOfRi()
    {
        _rig.Write(ModemControl, Loop);
        _rig.Read(ModemStatus);

        _rig.Write(ModemControl, Loop | Out1); // RI rises: no TERI
        Assert.Equal(Ri, _rig.Read(ModemStatus));

        _rig.Write(ModemControl, Loop);        // RI falls: TERI
        Assert.Equal(TrailingEdgeRi, _rig.Read(ModemStatus));
        Assert.Equal(0, _rig.Read(ModemStatus));
    }

    [Fact]
    public void AModemStatusChange_RaisesTheModemStatusInterrupt_UntilMsrIsRead()
    {
        _rig.Write(ModemControl, Loop);
        _rig.Read(ModemStatus);
        _rig.Write(InterruptEnable, EnableModemStatus);

        _rig.Write(ModemControl, Loop | Rts);

        Assert.Equal(ModemStatusInterrupt, _rig.Read(InterruptId));
        _rig.Read(ModemStatus);
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));
    }

    [Fact]
    public void TheInterruptLine_ReachesThePicOnlyWhileOut2IsSet()
    {
        _rig.Write(InterruptEnable, EnableReceivedData);
        _rig.Uart.AcceptInput("k"u8);

        Assert.Equal(ReceivedDataInterrupt, _rig.Read(InterruptId)); // the UART's own INTR is up...
        Assert.False(_rig.IrqLevel);                                 // ...but OUT2 keeps it off the bus

        _rig.Write(ModemControl, Out2);
        Assert.True(_rig.IrqLevel);

        _rig.Write(ModemControl, 0);
        Assert.False(_rig.IrqLevel);
    }

    [Fact]
    public void TheInterruptLine_RisesAndFalls_AsIirSays()
    {
        _rig.Write(ModemControl, Out2);
        _rig.Write(InterruptEnable, EnableReceivedData | EnableTransmitterEmpty);
        Assert.True(_rig.IrqLevel);                      // THRE, raised by enabling it

        Assert.Equal(TransmitterEmptyInterrupt, _rig.Read(InterruptId));
        Assert.False(_rig.IrqLevel);                     // taken by the IIR read

        _rig.Uart.AcceptInput("k"u8);
        Assert.True(_rig.IrqLevel);
        Assert.Equal(ReceivedDataInterrupt, _rig.Read(InterruptId));
        Assert.True(_rig.IrqLevel);                      // reading IIR does not take received data

        _rig.Read(Data);
        Assert.False(_rig.IrqLevel);
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));

        _rig.Write(InterruptEnable, 0);
        _rig.Write(InterruptEnable, EnableTransmitterEmpty);
        Assert.True(_rig.IrqLevel);
        _rig.Write(InterruptEnable, 0);                  // masking the source drops the line
        Assert.False(_rig.IrqLevel);
    }

    [Fact]
    public void Reset_ReturnsEveryRegisterToItsPowerOnValue()
    {
        _rig.Write(LineControl, DivisorLatchAccess | 0x1F);
        _rig.Write(DivisorLow, 0x01);
        _rig.Write(DivisorHigh, 0x00);
        _rig.Write(LineControl, 0x1F);
        _rig.Write(FifoControl, 0x01);
        _rig.Write(ModemControl, Dtr | Rts | Out1 | Out2);
        _rig.Write(InterruptEnable, 0x0F);
        _rig.Uart.AcceptInput("abc"u8);
        _rig.Write(ModemControl, Loop | Out2);           // a modem status delta; loopback
        _rig.Uart.Receive(new byte[20]);                 // and an overrun
        Assert.True(_rig.IrqLevel);

        _rig.Uart.Reset();

        // PC16550D, table IV: IER, LCR and MCR are 0; IIR reads "no interrupt", FIFOs off; LSR has only THRE and
        // TEMT; MSR's deltas are 0 (its lines are the attached terminal's); the INTR output is low.
        Assert.False(_rig.IrqLevel);
        Assert.Equal(0, _rig.Read(InterruptEnable));
        Assert.Equal(NoInterrupt, _rig.Read(InterruptId));
        Assert.Equal(0, _rig.Read(LineControl));
        Assert.Equal(0, _rig.Read(ModemControl));
        Assert.Equal(HoldingRegisterEmpty | TransmitterEmpty, _rig.Read(LineStatus));
        Assert.Equal(Cts | Dsr | Dcd, _rig.Read(ModemStatus));
        _rig.Send("z");                                  // out of loopback: the byte leaves on the line
        Assert.Equal("z"u8.ToArray(), _rig.Context.OutputBytes);
    }
}
