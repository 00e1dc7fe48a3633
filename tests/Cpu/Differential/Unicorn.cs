using System.Runtime.InteropServices;

namespace SplitEmu.Tests.Cpu.Differential;

/// <summary>
/// The reference CPU: Unicorn 2 (QEMU's TCG as a library, Debian package <c>libunicorn2</c>) opened as a 32-bit x86,
/// called through P/Invoke. Its guest memory is a native buffer of ours mapped with <c>uc_mem_map_ptr</c>, so state
/// can be compared and copied without going through the library.
/// </summary>
/// <remarks>
/// Constants are the values of the enums in <c>unicorn/unicorn.h</c> and <c>unicorn/x86.h</c> (API 2.0).
/// </remarks>
public sealed unsafe partial class Unicorn : IDisposable
{
    /// <summary>The soname Debian's libunicorn2 installs.</summary>
    public const string LibraryName = "libunicorn.so.2";

    private const int ArchX86 = 4;      // UC_ARCH_X86
    private const int Mode32 = 1 << 2;  // UC_MODE_32
    private const uint ProtAll = 7;     // UC_PROT_ALL
    private const int HookInterrupt = 1; // UC_HOOK_INTR
    private const int ErrorOk = 0;

    // UC_X86_REG_*: the enum counts up from INVALID = 0 with a gap after EIP (EIZ).
    public const int RegEax = 19, RegEbp = 20, RegEbx = 21, RegEcx = 22, RegEdi = 23, RegEdx = 24, RegEflags = 25, RegEip = 26;
    public const int RegEsi = 29, RegEsp = 30;
    public const int RegCs = 11, RegDs = 17, RegEs = 28, RegFs = 32, RegGs = 33, RegSs = 49;
    public const int RegGdtr = 243;
    /// <summary>UC_X86_REG_CR0 and UC_X86_REG_CR3.</summary>
    public const int RegCr0 = 50, RegCr3 = 53;

    /// <summary>Unicorn register ids in SplitEmu's GPR order (EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI).</summary>
    public static ReadOnlySpan<int> GprIds => [RegEax, RegEcx, RegEdx, RegEbx, RegEsp, RegEbp, RegEsi, RegEdi];

    private readonly nint _engine;
    private readonly byte* _memory;
    private readonly GCHandle _self;
    private nint _context;

    /// <summary>Opens a 32-bit x86 engine with <paramref name="memorySize"/> bytes of RAM at physical 0.</summary>
    public Unicorn(int memorySize)
    {
        EnsureLoadable();
        MemorySize = memorySize;
        Check(uc_open(ArchX86, Mode32, out _engine), "uc_open");
        _memory = (byte*)NativeMemory.AllocZeroed((nuint)memorySize);
        Check(uc_mem_map_ptr(_engine, 0, (nuint)memorySize, ProtAll, _memory), "uc_mem_map_ptr");
        _self = GCHandle.Alloc(this);
        delegate* unmanaged<nint, uint, nint, void> callback = &OnInterrupt;
        Check(uc_hook_add(_engine, out _, HookInterrupt, callback, GCHandle.ToIntPtr(_self), 1, 0), "uc_hook_add");
    }

    public int MemorySize { get; }

    /// <summary>The guest's RAM (physical 0 up).</summary>
    public Span<byte> Memory => new(_memory, MemorySize);

    /// <summary>The vector of the exception the last <see cref="Step"/> raised, or -1.</summary>
    public int LastException { get; private set; } = -1;

    /// <summary>
    /// Throws with an installation hint when the library cannot be loaded: the differential tests must fail, not
    /// skip, on a machine without it.
    /// </summary>
    public static void EnsureLoadable()
    {
        if (!NativeLibrary.TryLoad(LibraryName, out nint handle))
            throw new InvalidOperationException(
                $"{LibraryName} could not be loaded. The differential CPU tests need Unicorn 2: install it with "
                + "'sudo apt-get install libunicorn2' (Debian/Ubuntu; .ci/run does this).");
        NativeLibrary.Free(handle);
    }

    public uint ReadRegister(int id)
    {
        ulong value = 0;
        Check(uc_reg_read(_engine, id, &value), "uc_reg_read");
        return (uint)value;
    }

    public void WriteRegister(int id, uint value)
    {
        ulong wide = value;
        Check(uc_reg_write(_engine, id, &wide), "uc_reg_write");
    }

    /// <summary>Loads GDTR (a uc_x86_mmr: selector, base at offset 8, limit at 16, flags at 20; 24 bytes).</summary>
    public void WriteGdtr(ulong baseAddress, uint limit)
    {
        byte* mmr = stackalloc byte[24];
        new Span<byte>(mmr, 24).Clear();
        *(ulong*)(mmr + 8) = baseAddress;
        *(uint*)(mmr + 16) = limit;
        Check(uc_reg_write(_engine, RegGdtr, mmr), "uc_reg_write(GDTR)");
    }

    /// <summary>
    /// Runs from <paramref name="eip"/> until EIP reaches <paramref name="until"/> (the next instruction), at most
    /// <paramref name="count"/> instructions (Unicorn counts each REP iteration as one), or an
    /// exception. Returns the uc_err code (0 when it stopped normally). Keep <paramref name="count"/> non-zero:
    /// going from a counted run to an uncounted one and back flushes every translation.
    /// </summary>
    public int Step(uint eip, uint until, int count)
    {
        LastException = -1;
        return uc_emu_start(_engine, eip, until, 0, (nuint)count);
    }

    /// <summary>Drops translated code overlapping [address, address + length) (UC_CTL_TB_REMOVE_CACHE).</summary>
    public void InvalidateCode(ulong address, ulong length)
    {
        // UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2): type 9 in the low bits, argument count 2 at bit 26, write at bit 30.
        const int control = 9 | (2 << 26) | (1 << 30);
        Check(uc_ctl(_engine, control, address, address + length), "uc_ctl(TB_REMOVE_CACHE)");
    }

    /// <summary>Remembers the whole CPU state (control registers included) for <see cref="RestoreContext"/>.</summary>
    public void SaveContext()
    {
        if (_context == 0)
            Check(uc_context_alloc(_engine, out _context), "uc_context_alloc");
        Check(uc_context_save(_engine, _context), "uc_context_save");
    }

    /// <summary>
    /// Goes back to the state <see cref="SaveContext"/> saved. Needed after every exception: the interrupt hook
    /// stops emulation before QEMU delivers the exception, so QEMU still remembers it as the one being delivered
    /// and would make the next one a double fault (and the one after that a shutdown).
    /// </summary>
    public void RestoreContext() => Check(uc_context_restore(_engine, _context), "uc_context_restore");

    /// <summary>Drops all translated code (UC_CTL_TB_FLUSH).</summary>
    public void FlushCode()
    {
        // UC_CTL_WRITE(UC_CTL_TB_FLUSH, 0): type 10, no arguments, write at bit 30.
        const int control = 10 | (1 << 30);
        Check(uc_ctl(_engine, control, 0, 0), "uc_ctl(TB_FLUSH)");
    }

    public static string ErrorText(int code) => Marshal.PtrToStringUTF8(uc_strerror(code)) ?? code.ToString();

    public void Dispose()
    {
        if (_context != 0)
            uc_context_free(_context);
        uc_close(_engine);
        _self.Free();
        NativeMemory.Free(_memory);
    }

    [UnmanagedCallersOnly]
    private static void OnInterrupt(nint engine, uint vector, nint userData)
    {
        var self = (Unicorn)GCHandle.FromIntPtr(userData).Target!;
        self.LastException = (int)vector;
        uc_emu_stop(engine);
    }

    private static void Check(int error, string call)
    {
        if (error != ErrorOk)
            throw new InvalidOperationException($"{call} failed: {ErrorText(error)} ({error})");
    }

    [LibraryImport(LibraryName)]
    private static partial int uc_open(int arch, int mode, out nint engine);

    [LibraryImport(LibraryName)]
    private static partial int uc_close(nint engine);

    [LibraryImport(LibraryName)]
    private static partial int uc_mem_map_ptr(nint engine, ulong address, nuint size, uint perms, void* memory);

    [LibraryImport(LibraryName)]
    private static partial int uc_reg_read(nint engine, int regId, void* value);

    [LibraryImport(LibraryName)]
    private static partial int uc_reg_write(nint engine, int regId, void* value);

    [LibraryImport(LibraryName)]
    private static partial int uc_emu_start(nint engine, ulong begin, ulong until, ulong timeout, nuint count);

    [LibraryImport(LibraryName)]
    private static partial int uc_emu_stop(nint engine);

    // uc_hook_add and uc_ctl are variadic in C. On x86-64 System V, integer arguments after the fixed ones go in
    // the same registers as for a non-variadic call, so declaring the arguments we pass is the same call.
    [LibraryImport(LibraryName)]
    private static partial int uc_hook_add(nint engine, out nint hook, int type, void* callback, nint userData, ulong begin, ulong end);

    [LibraryImport(LibraryName)]
    private static partial int uc_ctl(nint engine, int control, ulong arg0, ulong arg1);

    [LibraryImport(LibraryName)]
    private static partial nint uc_strerror(int code);

    [LibraryImport(LibraryName)]
    private static partial int uc_context_alloc(nint engine, out nint context);

    [LibraryImport(LibraryName)]
    private static partial int uc_context_save(nint engine, nint context);

    [LibraryImport(LibraryName)]
    private static partial int uc_context_restore(nint engine, nint context);

    [LibraryImport(LibraryName)]
    private static partial int uc_context_free(nint context);
}
