using System.Runtime.InteropServices;

namespace SplitEmu.Launch.Host;

/// <summary>
/// The few libc calls console input needs: is a descriptor a terminal, is this process its foreground job, the
/// terminal's settings (termios, kept opaque: only cfmakeraw edits them, and the output flags are put back), and
/// a plain read(2) that .NET's Console would otherwise wrap with terminal handling of its own.
/// </summary>
internal static partial class TerminalControl
{
    /// <summary>The standard input descriptor.</summary>
    public const int StandardInput = 0;

    /// <summary>struct termios is 60 bytes on Linux; a larger buffer is safe on any libc.</summary>
    public const int TermiosBytes = 256;

    /// <summary>Offset of c_oflag (after c_iflag): the same on every Linux architecture.</summary>
    private const int OutputFlagsOffset = 4;

    private const int TcsaNow = 0;
    private const int Eintr = 4;

    /// <summary>Whether <paramref name="fd"/> is a terminal.</summary>
    public static bool IsTerminal(int fd) => IsATty(fd) == 1;

    /// <summary>Whether this process's group is the foreground job of the terminal at <paramref name="fd"/> (a background job that changes or reads it is stopped by SIGTTOU/SIGTTIN).</summary>
    public static bool IsForeground(int fd) => GetForegroundGroup(fd) == GetProcessGroup();

    /// <summary>The terminal's settings, or null when they cannot be read.</summary>
    public static unsafe byte[]? GetSettings(int fd)
    {
        byte[] settings = new byte[TermiosBytes];
        fixed (byte* at = settings)
        {
            return GetAttributes(fd, at) == 0 ? settings : null;
        }
    }

    /// <summary>
    /// <paramref name="settings"/> made raw (cfmakeraw: no echo, no line editing, no signals from keys, 8-bit) but
    /// with its output processing kept, as QEMU's stdio does: the guest's and the launcher's "\n" still start a line.
    /// </summary>
    public static unsafe byte[] Raw(byte[] settings)
    {
        byte[] raw = (byte[])settings.Clone();
        fixed (byte* at = raw)
        {
            MakeRaw(at);
        }

        settings.AsSpan(OutputFlagsOffset, sizeof(uint)).CopyTo(raw.AsSpan(OutputFlagsOffset));
        return raw;
    }

    /// <summary>Applies <paramref name="settings"/> now; false on failure.</summary>
    public static unsafe bool SetSettings(int fd, byte[] settings)
    {
        fixed (byte* at = settings)
        {
            return SetAttributes(fd, TcsaNow, at) == 0;
        }
    }

    /// <summary>read(2) into <paramref name="buffer"/>, retried on EINTR: bytes read, 0 at end of input, -1 on error.</summary>
    public static unsafe int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* at = buffer)
        {
            while (true)
            {
                nint n = ReadNative(fd, at, (nuint)buffer.Length);
                if (n >= 0 || Marshal.GetLastPInvokeError() != Eintr)
                {
                    return (int)n;
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "isatty")]
    private static partial int IsATty(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetpgrp")]
    private static partial int GetForegroundGroup(int fd);

    [LibraryImport("libc", EntryPoint = "getpgrp")]
    private static partial int GetProcessGroup();

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static unsafe partial int GetAttributes(int fd, byte* termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static unsafe partial int SetAttributes(int fd, int when, byte* termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    private static unsafe partial void MakeRaw(byte* termios);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadNative(int fd, byte* buffer, nuint count);
}
