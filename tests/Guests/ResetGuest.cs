using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// A flat 32-bit guest that resets its machine and checks what the reset did. First run: it writes the UART's
/// scratch register, leaves a marker in RAM outside its image, and pulls a reset line (port 0xCF9 or the 8042's
/// pulse command). Second run (the marker is there: RAM survived, the image was loaded again and the CPU
/// started over): the scratch register must read 0 (the UART, in its own process, went back to power-on), and
/// the guest ends the machine through the debug-exit port with <see cref="Success"/>.
/// </summary>
public static class ResetGuest
{
    public const byte Success = 0x10;
    public const byte FailedUartKeptItsState = 0x21;
    public const byte FailedNoReset = 0x22;

    public const ushort UartScratchPort = 0x3F8 + 7;
    public const ushort DebugExitPort = 0x501;
    private const uint Marker = 0x0020_0000;
    private const uint MarkerValue = 0x5E5E_7001;

    /// <summary>How the guest pulls the reset line.</summary>
    public enum Line
    {
        /// <summary>The PCI reset control register (i440FX, in the CPU process): write 0x06 to port 0xCF9.</summary>
        ResetControlRegister,

        /// <summary>The keyboard controller's pulse command 0xFE on port 0x64 (an event from its process, if isolated).</summary>
        KeyboardController,
    }

    public static byte[] Build(Line line)
    {
        var a = new Assembler(32);
        var secondRun = a.CreateLabel("second_run");
        var fail = a.CreateLabel("fail");
        var hang = a.CreateLabel("hang");

        a.cmp(__dword_ptr[Marker], MarkerValue);
        a.je(secondRun);

        a.mov(dx, UartScratchPort);
        a.mov(al, 0x55);
        a.@out(dx, al);
        a.mov(__dword_ptr[Marker], MarkerValue);
        if (line == Line.ResetControlRegister)
        {
            a.mov(dx, 0xCF9);
            a.mov(al, 0x06);
        }
        else
        {
            a.mov(dx, 0x64);
            a.mov(al, 0xFE);
        }

        a.@out(dx, al);
        a.mov(ecx, 10_000_000); // the reset lands at an instruction boundary soon after; if not, say so
        a.Label(ref hang);
        a.dec(ecx);
        a.jnz(hang);
        a.mov(al, FailedNoReset);
        a.jmp(fail);

        a.Label(ref secondRun);
        a.mov(dx, UartScratchPort);
        a.@in(al, dx);
        a.cmp(al, 0);
        a.mov(al, FailedUartKeptItsState);
        a.jne(fail);
        a.mov(al, Success);
        a.Label(ref fail);
        a.mov(dx, DebugExitPort);
        a.@out(dx, al);
        a.hlt();

        using MemoryStream code = new();
        a.Assemble(new StreamCodeWriter(code), 0x0010_0000);
        return code.ToArray();
    }
}
