using SplitEmu.DeviceHost.Devices.Input;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Input;

public sealed class I8042Tests
{
    // Status register bits.
    private const byte OutputFull = 0x01;
    private const byte SystemFlag = 0x04;
    private const byte LastWasCommand = 0x08;
    private const byte AuxData = 0x20;
    private const byte Timeout = 0x40;

    // Command byte bits.
    private const byte KeyboardInterrupt = 0x01;
    private const byte AuxInterrupt = 0x02;
    private const byte KeyboardDisabled = 0x10;
    private const byte AuxDisabled = 0x20;
    private const byte Translate = 0x40;

    private const byte Ack = 0xFA;

    private readonly FakeDeviceContext _context = new();
    private readonly I8042 _i8042;

    public I8042Tests()
    {
        _i8042 = new I8042(new DeviceConfig { Type = I8042.TypeName }, _context);
    }

    [Fact]
    public void Regions_AreTheDataAndCommandPorts()
    {
        Assert.Equal(("data", 0x60UL, 1UL), (_i8042.Regions[I8042.DataRegion].Name, _i8042.Regions[I8042.DataRegion].Base, _i8042.Regions[I8042.DataRegion].Size));
        Assert.Equal(("command", 0x64UL, 1UL), (_i8042.Regions[I8042.CommandRegion].Name, _i8042.Regions[I8042.CommandRegion].Base, _i8042.Regions[I8042.CommandRegion].Size));
    }

    [Fact]
    public void SeaBiosKeyboardSetup_SucceedsWithoutATimeout()
    {
        SeaBiosPs2 bios = new(_i8042);

        bool initialized = bios.KeyboardSetup();

        Assert.True(initialized, bios.Failure);
        Assert.Equal(0, bios.Timeouts);
        Assert.Equal(0, bios.Discarded);
        Assert.Equal(AuxDisabled | Translate | KeyboardInterrupt, _i8042.CommandByte);
        Assert.True(_i8042.KeyboardScanning);
        Assert.Equal(2, _i8042.KeyboardScanCodeSet);
        Assert.Equal(0, Status() & OutputFull); // nothing left over for the keyboard interrupt handler
    }

    [Fact]
    public void SeaBiosFlush_ReadsOutBytesLeftInTheController()
    {
        _i8042.EnqueueScanCode(0x1E);
        _i8042.EnqueueScanCode(0x9E);
        SeaBiosPs2 bios = new(_i8042);

        bool flushed = bios.Flush();

        Assert.True(flushed);
        Assert.Equal(2, bios.Flushed);
        Assert.Equal(0, Status() & OutputFull);
    }

    [Fact]
    public void SeaBiosLedUpdate_AcksCommandAndArgument()
    {
        SeaBiosPs2 bios = new(_i8042);
        Assert.True(bios.KeyboardSetup(), bios.Failure);

        bool done = bios.KeyboardCommand(0xED, [0x04], receive: 0) is not null; // caps lock

        Assert.True(done, bios.Failure);
        Assert.Equal(0x04, _i8042.KeyboardLeds);
        Assert.Equal(0, bios.Timeouts);
    }

    [Fact]
    public void ControllerSelfTest_Answers55AndSetsTheSystemFlag()
    {
        Command(0xAA);

        Assert.Equal(OutputFull | SystemFlag | LastWasCommand, Status() & (OutputFull | SystemFlag | LastWasCommand));
        Assert.Equal(0x55, ReadData());
    }

    [Fact]
    public void InterfaceTests_AnswerNoError()
    {
        Command(0xAB);
        byte keyboard = ReadData();
        Command(0xA9);
        byte aux = ReadData();

        Assert.Equal((0x00, 0x00), (keyboard, aux));
    }

    [Fact]
    public void CommandByte_WritesAndReadsBack()
    {
        WriteCommandByte(0x65);
        Command(0x20);

        Assert.Equal(0x65, ReadData());
        Assert.Equal(0x65, _i8042.CommandByte);
    }

    [Fact]
    public void TranslationBit_IsStoredAndTranslatesTheKeyboardsIdentity()
    {
        WriteCommandByte(Translate);
        Keyboard(0xF2);
        byte[] translated = ReadAll();
        WriteCommandByte(0x00);
        Keyboard(0xF2);
        byte[] raw = ReadAll();

        Assert.Equal(new byte[] { Ack, 0xAB, 0x41 }, translated);
        Assert.Equal(new byte[] { Ack, 0xAB, 0x83 }, raw);
    }

    [Fact]
    public void KeyboardReset_AnswersAckThenSelfTestPassed()
    {
        Keyboard(0xFF);

        Assert.Equal(new byte[] { Ack, 0xAA }, ReadAll());
    }

    [Fact]
    public void Echo_AnswersEEWithoutAnAck()
    {
        Keyboard(0xEE);

        Assert.Equal(new byte[] { 0xEE }, ReadAll());
    }

    [Theory]
    [InlineData(0xEF)] // a command byte no keyboard knows
    [InlineData(0x42)] // not a command, and no command waits for an argument
    public void UnknownCommand_AnswersResend(byte command)
    {
        Keyboard(command);

        Assert.Equal(new byte[] { 0xFE }, ReadAll());
    }

    [Fact]
    public void ScanCodeSet_ZeroReadsTheCurrentSet()
    {
        Keyboard(0xF0);
        Keyboard(0x01);
        Keyboard(0xF0);
        Keyboard(0x00);

        Assert.Equal(new byte[] { Ack, Ack, Ack, Ack, 0x01 }, ReadAll());
        Assert.Equal(1, _i8042.KeyboardScanCodeSet);
    }

    [Fact]
    public void Typematic_AcksAndStoresItsArgument()
    {
        Keyboard(0xF3);
        Keyboard(0x20);

        Assert.Equal(new byte[] { Ack, Ack }, ReadAll());
        Assert.Equal(0x20, _i8042.KeyboardTypematic);
    }

    [Fact]
    public void CommandWhileAnArgumentIsAwaited_IsTakenAsANewCommand()
    {
        Keyboard(0xED);
        Keyboard(0xEE);

        Assert.Equal(new byte[] { Ack, 0xEE }, ReadAll());
        Assert.Equal(0, _i8042.KeyboardLeds);
    }

    [Fact]
    public void DisableAndEnable_StopAndStartScanCodes()
    {
        Keyboard(0xF5);
        ReadAll();
        bool whileDisabled = _i8042.EnqueueScanCode(0x1E);
        Keyboard(0xF4);
        ReadAll();
        bool whileEnabled = _i8042.EnqueueScanCode(0x1E);

        Assert.False(whileDisabled);
        Assert.True(whileEnabled);
        Assert.Equal(0x1E, ReadData());
    }

    [Fact]
    public void KeyboardByte_RaisesIrq1_AndReadingPort60LowersIt()
    {
        _i8042.EnqueueScanCode(0x1E);
        bool raised = _context.IrqLevels[I8042.KeyboardIrqLine];

        byte read = ReadData();

        Assert.True(raised);
        Assert.Equal(0x1E, read);
        Assert.False(_context.IrqLevels[I8042.KeyboardIrqLine]);
        Assert.Equal(new[] { (1, true), (1, false) }, _context.IrqChanges);
    }

    [Fact]
    public void EveryQueuedByte_GivesIrq1ARisingEdge()
    {
        _i8042.EnqueueScanCode(0x1E);
        _i8042.EnqueueScanCode(0x9E);

        ReadData();

        Assert.Equal(new[] { (1, true), (1, false), (1, true) }, _context.IrqChanges);
    }

    [Fact]
    public void KeyboardInterruptDisabled_KeepsIrq1Low_AndEnablingItRaisesTheLine()
    {
        WriteCommandByte(0x00);
        _i8042.EnqueueScanCode(0x1E);
        bool whileDisabled = _context.IrqLevels[I8042.KeyboardIrqLine];

        WriteCommandByte(KeyboardInterrupt);

        Assert.False(whileDisabled);
        Assert.True(_context.IrqLevels[I8042.KeyboardIrqLine]);
        Assert.False(_context.IrqLevels[I8042.AuxIrqLine]);
    }

    [Fact]
    public void KeyboardInterfaceDisabled_HoldsKeyboardBytesUntilEnabled()
    {
        Command(0xAD);
        _i8042.EnqueueScanCode(0x1E);
        byte statusWhileDisabled = Status();

        Command(0xAE);

        Assert.Equal(0, statusWhileDisabled & OutputFull);
        Assert.Equal(0, _i8042.CommandByte & KeyboardDisabled);
        Assert.Equal(0x1E, ReadData());
    }

    [Fact]
    public void AuxLoopback_ComesBackAsAuxDataOnIrq12()
    {
        Command(0xD3);
        Data(0x5A);

        Assert.Equal(OutputFull | AuxData, Status() & (OutputFull | AuxData));
        Assert.True(_context.IrqLevels[I8042.AuxIrqLine]);
        Assert.False(_context.IrqLevels[I8042.KeyboardIrqLine]);
        Assert.Equal(0x5A, ReadData());
        Assert.False(_context.IrqLevels[I8042.AuxIrqLine]);
    }

    [Fact]
    public void WriteToAux_WithNoMouse_AnswersFEWithTimeout()
    {
        Command(0xD4);
        Data(0xF2);

        Assert.Equal(OutputFull | AuxData | Timeout, Status() & (OutputFull | AuxData | Timeout));
        Assert.Equal(0xFE, ReadData());
        Assert.Equal(0, Status() & Timeout);
    }

    [Fact]
    public void AuxDisableAndEnable_SetAndClearCommandByteBit5()
    {
        Command(0xA7);
        byte disabled = _i8042.CommandByte;
        Command(0xA8);

        Assert.Equal(AuxDisabled, disabled & AuxDisabled);
        Assert.Equal(0, _i8042.CommandByte & AuxDisabled);
    }

    [Fact]
    public void OutputPort_WritesAndReadsBackWithTheInterruptOutputs()
    {
        Command(0xD1);
        Data(0xC1); // reset high, A20 off
        Command(0xD0);
        byte withA20Off = ReadData();
        Command(0xDF);
        Command(0xD0);

        byte withA20On = ReadData();

        Assert.Equal(0xC1, withA20Off);
        Assert.Equal(0xC3, withA20On);
        Assert.Empty(_context.Exits);
    }

    [Fact]
    public void OutputPortRead_ShowsIrq1AndWaitsBehindAKeyboardByte()
    {
        _i8042.EnqueueScanCode(0x1E); // in the output buffer, IRQ 1 up

        Command(0xD0);

        Assert.Equal(new byte[] { 0x1E, I8042.PowerOnOutputPort | 0x10 }, ReadAll());
    }

    [Fact]
    public void InputPort_ReportsTheKeyboardNotInhibited()
    {
        Command(0xC0);

        Assert.Equal(0x80, ReadData() & 0x80);
    }

    [Fact]
    public void ResetPulse_RequestsAMachineResetOnce()
    {
        Command(0xFE);
        Command(0xFE);

        Assert.Equal(1, _context.ResetRequests);
        Assert.Empty(_context.Exits);
    }

    [Fact]
    public void OutputPortWithResetLow_RequestsAMachineReset()
    {
        Command(0xD1);
        Data(0xFE);

        Assert.Equal(1, _context.ResetRequests);
    }

    [Fact]
    public void PulseWithoutBit0_DoesNotReset()
    {
        Command(0xFF); // the "null" pulse Linux writes after enabling A20

        Assert.Equal(0, _context.ResetRequests);
        Assert.Empty(_context.Exits);
    }

    [Fact]
    public void Snapshot_MidQueue_RestoresTheRestOfTheReplyAndTheLine()
    {
        Keyboard(0xFF);
        Assert.Equal(Ack, ReadData());
        byte[] state = _i8042.SaveState();
        FakeDeviceContext context = new();
        I8042 restored = new(new DeviceConfig { Type = I8042.TypeName }, context);

        restored.RestoreState(state);

        Assert.True(context.IrqLevels[I8042.KeyboardIrqLine]);
        Assert.Equal(0xAA, (byte)restored.Read(I8042.DataRegion, 0, 1));
        Assert.Equal(0, (byte)restored.Read(I8042.CommandRegion, 0, 1) & OutputFull);
    }

    [Fact]
    public void Snapshot_KeepsACommandWaitingForItsArgument()
    {
        Keyboard(0xED);
        ReadAll();
        I8042 restored = new(new DeviceConfig { Type = I8042.TypeName }, new FakeDeviceContext());

        restored.RestoreState(_i8042.SaveState());
        restored.Write(I8042.DataRegion, 0, 1, 0x02);

        Assert.Equal(0x02, restored.KeyboardLeds);
    }

    [Fact]
    public void RestoreState_RejectsBytesThatAreNotAState()
    {
        Assert.Throws<InvalidDataException>(() => _i8042.RestoreState(new byte[] { 1, 2, 3 }));
    }

    private byte Status() => (byte)_i8042.Read(I8042.CommandRegion, 0, 1);

    private byte ReadData() => (byte)_i8042.Read(I8042.DataRegion, 0, 1);

    private void Command(byte command) => _i8042.Write(I8042.CommandRegion, 0, 1, command);

    private void Data(byte value) => _i8042.Write(I8042.DataRegion, 0, 1, value);

    private void Keyboard(byte value) => Data(value);

    private void WriteCommandByte(byte value)
    {
        Command(0x60);
        Data(value);
    }

    /// <summary>Reads every byte the controller has for the guest (bounded, so a stuck buffer fails the test).</summary>
    private byte[] ReadAll()
    {
        List<byte> bytes = [];
        for (int i = 0; i < 32 && (Status() & OutputFull) != 0; i++)
        {
            bytes.Add(ReadData());
        }

        return [.. bytes];
    }
}
