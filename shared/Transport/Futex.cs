using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// Linux futex on a 32-bit word in a shared mapping. Non-private operations, because the word is shared
/// between processes (.NET on Linux has no named wait handles; see notes/transport.md).
/// </summary>
public static unsafe partial class Futex
{
    private const long SysFutex = 202;
    private const int FutexWait = 0;
    private const int FutexWake = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int* address, int op, int value, TimeSpec* timeout, int* address2, int value3);

    /// <summary>
    /// Sleeps while <c>*word == expected</c>, at most <paramref name="timeoutMicroseconds"/> (negative: no limit).
    /// Returns early on a wake-up, a signal or a changed word; callers always re-check their condition.
    /// </summary>
    public static void Wait(int* word, int expected, long timeoutMicroseconds)
    {
        if (timeoutMicroseconds < 0)
        {
            Syscall(SysFutex, word, FutexWait, expected, null, null, 0);
            return;
        }

        TimeSpec timeout = new()
        {
            Seconds = timeoutMicroseconds / 1_000_000,
            Nanoseconds = timeoutMicroseconds % 1_000_000 * 1000,
        };
        Syscall(SysFutex, word, FutexWait, expected, &timeout, null, 0);
    }

    /// <summary>Wakes up to <paramref name="count"/> sleepers on <paramref name="word"/>.</summary>
    public static void Wake(int* word, int count = int.MaxValue) =>
        Syscall(SysFutex, word, FutexWake, count, null, null, 0);
}
