using System.Runtime.InteropServices;

namespace SplitEmu.DeviceHost.Hosting.Sandbox;

/// <summary>
/// One instruction of a classic BPF program, laid out as the kernel's <c>struct sock_filter</c> (8 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct SockFilter(ushort code, byte jt, byte jf, uint k)
{
    /// <summary>Operation (class, size, mode or operator, source).</summary>
    public readonly ushort Code = code;

    /// <summary>Conditional jumps: instructions skipped when the condition holds.</summary>
    public readonly byte Jt = jt;

    /// <summary>Conditional jumps: instructions skipped when it does not.</summary>
    public readonly byte Jf = jf;

    /// <summary>The constant operand (an offset to load, a value to compare, an action to return).</summary>
    public readonly uint K = k;

    /// <inheritdoc/>
    public override string ToString() => $"{{ code 0x{Code:x2}, jt {Jt}, jf {Jf}, k 0x{K:x} }}";
}

/// <summary>
/// The seccomp allow-list of a device process: the system calls it makes while serving its devices, measured
/// with strace on the native device host (a Linux boot with IDE disk I/O, UART and PIT isolated; the default
/// machine; crash-test and monitor crash/unplug/plug restarts; the transport and mmio benches over every wait
/// policy and the socket transport) and on the JIT host (the default machine, the Linux boot), plus a few the
/// runtime needs rarely (thread exit, GC under pressure, a failure's last words). Every other call kills the
/// whole process (<see cref="KillProcess"/>): a device that wants something outside the list is compromised or
/// broken, and either way its supervisor restarts it.
/// </summary>
/// <remarks>
/// <para>
/// Installed at attach, once the models have opened their files, the ring and guest RAM are mapped and every
/// socket is connected (see <c>DeviceSandbox.LockDown</c>); calls only setup needs are not on the list.
/// </para>
/// <para>
/// Deliberately NOT allowed (each kills the process): execve, execveat, fork, vfork and clone without
/// CLONE_THREAD (no new programs, no new processes); ptrace, process_vm_readv/writev, kcmp, get_robust_list
/// (no looking into other processes); pidfd_open, pidfd_getfd, pidfd_send_signal (no handles on them); mount,
/// umount2, pivot_root, chroot, unshare, setns, the new mount API, and clone with CLONE_NEW* (the sandbox's
/// file system and namespaces are final); socket, socketpair, connect, bind, listen, accept, accept4 (the
/// sockets are connected before the filter goes on: no new peers); the setuid/setgid/setgroups/capset family;
/// kexec_load, kexec_file_load, reboot, init_module, finit_module, delete_module; bpf, perf_event_open,
/// userfaultfd, io_uring_setup/enter/register (large kernel attack surface); keyctl, add_key, request_key;
/// memfd_create, ftruncate, fallocate, truncate, unlink, rename, mkdir and every other call that creates or
/// changes files (openat asking to write is the exception: it fails with EACCES, as in a read-only file system,
/// because runtimes try it and cope: CoreCLR names other threads through /proc/self/task/N/comm); seccomp itself (a process cannot loosen its filter, and has no reason to add one; prctl answers EPERM to all but the options measured, PR_SET_SECCOMP among the refused).
/// </para>
/// <para>
/// Same-user permission checks do not stop a process in a user namespace from signalling, re-prioritising or
/// re-limiting a process of the same user outside it: so signals go only to this process, and the scheduling
/// and limit setters only to the caller or this process (sched_setscheduler: any thread to SCHED_OTHER, only
/// this process to SCHED_BATCH); the scheduling queries answer EPERM about others. futex without its
/// priority-inheritance operations; socket messages without MSG_OOB; prctl only for the measured options. fcntl's F_SETOWN/F_SETSIG (which would aim SIGIO at another process) and ioctl's TIOCSTI
/// (which types into a terminal) are outside their calls' command lists.
/// </para>
/// <para>
/// On kernels from 5.11 the kernel caches, per system call number, the calls this program allows whatever their
/// arguments, and skips the program for them; the rest walk the list, which starts with the hot calls.
/// </para>
/// </remarks>
public static unsafe partial class SeccompFilter
{
    /// <summary>SECCOMP_RET_KILL_PROCESS: the whole process dies (SIGSYS, as if by a signal it cannot catch).</summary>
    public const uint KillProcess = 0x8000_0000;

    /// <summary>SECCOMP_RET_ALLOW.</summary>
    public const uint Allow = 0x7fff_0000;

    /// <summary>SECCOMP_RET_ERRNO: the call fails with the errno in the low 16 bits, without being made.</summary>
    public const uint ErrnoAction = 0x0005_0000;

    /// <summary>Mask of a return value's action (the rest is its data, e.g. an errno).</summary>
    public const uint ActionMask = 0xffff_0000;

    /// <summary>AUDIT_ARCH_X86_64 (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE), <c>seccomp_data.arch</c>.</summary>
    public const uint AuditArchX86_64 = 0xc000_003e;

    /// <summary>__X32_SYSCALL_BIT: x32 ABI system call numbers have it set; they get through an x86-64 arch check.</summary>
    public const uint X32SyscallBit = 0x4000_0000;

    /// <summary>Offsets in <c>struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }</c>.</summary>
    public const uint NrOffset = 0, ArchOffset = 4, ArgsOffset = 16;

    /// <summary>clone(2) flags: CLONE_THREAD (same thread group: a thread, not a process).</summary>
    public const uint CloneThread = 0x0001_0000;

    /// <summary>clone(2) flags that create namespaces: CLONE_NEWNS, _NEWCGROUP, _NEWUTS, _NEWIPC, _NEWUSER, _NEWPID, _NEWNET.</summary>
    public const uint CloneNewNamespaces = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

    /// <summary>open(2) flags that ask for more than reading: O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE.</summary>
    public const uint OpenWriteFlags = 0x1 | 0x2 | 0x40 | 0x200 | 0x400 | 0x40_0000;

    private const int Enosys = 38;
    private const int Eacces = 13;
    private const int Eperm = 1;

    private const int SysPrctl = 157, SysFutex = 202, SysSendto = 44, SysRecvfrom = 45, SysSendmsg = 46, SysRecvmsg = 47;
    private const int SysSchedGetaffinity = 204, SysSchedGetscheduler = 145, SysSchedGetparam = 143;
    private const uint PrSetPdeathsig = 1, PrGetPdeathsig = 2, PrGetDumpable = 3, PrSetName = 15, PrGetName = 16, PrSetVma = 0x53564d41;
    private const uint FutexCommandMask = 0x7F; // without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME
    private const uint FutexLockPi = 6, FutexUnlockPi = 7, FutexTrylockPi = 8, FutexWaitRequeuePi = 11, FutexCmpRequeuePi = 12, FutexLockPi2 = 13;
    private const uint MsgOob = 1;

    // Classic BPF opcodes (linux/bpf_common.h): class | size | mode, class | operator | source.
    private const ushort LoadWordAbsolute = 0x00 | 0x00 | 0x20; // BPF_LD | BPF_W | BPF_ABS
    private const ushort JumpAlways = 0x05 | 0x00;              // BPF_JMP | BPF_JA
    private const ushort JumpIfEqual = 0x05 | 0x10 | 0x00;      // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort JumpIfAtLeast = 0x05 | 0x30 | 0x00;    // BPF_JMP | BPF_JGE | BPF_K
    private const ushort JumpIfAnyBit = 0x05 | 0x40 | 0x00;     // BPF_JMP | BPF_JSET | BPF_K
    private const ushort ReturnConstant = 0x06 | 0x00;          // BPF_RET | BPF_K

    /// <summary>
    /// System calls allowed whatever their arguments (x86-64 numbers), hot ones first. Names as in
    /// <c>asm/unistd_64.h</c>; the comment on each group says who makes them.
    /// </summary>
    public static readonly IReadOnlyList<(string Name, int Number)> AllowedSyscalls =
    [
        // Serving: the ring's waits and doorbells, the control plane's JSON-RPC over its UNIX socket (the
        // socket transport too), and the IDE model's disk image.
        // (futex and the socket calls are allowed with checks further down.)
        ("sched_yield", 24), ("epoll_wait", 232), ("read", 0), ("write", 1), ("pread64", 17), ("pwrite64", 18), ("fsync", 74),
        ("fdatasync", 75), ("readv", 19), ("writev", 20), ("preadv", 295), ("pwritev", 296), ("preadv2", 327),
        ("pwritev2", 328), ("lseek", 8), ("flock", 73),

        // Memory: the GC (commit, decommit, reset), malloc, thread stacks; membarrier is the GC's
        // FlushProcessWriteBuffers when it suspends threads.
        ("mmap", 9), ("munmap", 11), ("mprotect", 10), ("madvise", 28), ("mremap", 25), ("brk", 12), ("membarrier", 324),

        // Threads: the thread pool creates and retires workers while serving (clone3 is answered ENOSYS below, so
        // glibc falls back to clone, which is checked below); timers name their threads with prctl(PR_SET_NAME).
        ("set_robust_list", 273), ("rseq", 334), ("set_tid_address", 218), ("exit", 60), ("exit_group", 231),
        // (prctl and the scheduler queries are allowed with checks further down.)
        ("gettid", 186), ("getpid", 39), ("getppid", 110), ("arch_prctl", 158), ("getcpu", 309),
        ("sched_get_priority_max", 146), ("sched_get_priority_min", 147),

        // Signals: masks around thread creation; the runtime's own handlers and its GC suspension signal
        // (tgkill, checked below) return through rt_sigreturn; a signal interrupting a sleep restarts it.
        ("rt_sigprocmask", 14), ("rt_sigaction", 13), ("rt_sigreturn", 15), ("sigaltstack", 131),
        ("restart_syscall", 219), ("rt_sigpending", 127), ("rt_sigtimedwait", 128), ("rt_sigsuspend", 130),

        // Time: the vDSO answers these without a system call, unless the clock source cannot (some VMs).
        ("clock_gettime", 228), ("clock_getres", 229), ("gettimeofday", 96), ("time", 201),
        ("clock_nanosleep", 230), ("nanosleep", 35), ("getrusage", 98), ("times", 100),

        // Descriptors already open: closing (a stop closes the ring, the image, the sockets), duplicating,
        // their status; polling them.
        ("close", 3), ("dup", 32), ("dup2", 33), ("dup3", 292), ("fstat", 5), ("newfstatat", 262), ("statx", 332),
        ("fstatfs", 138), ("poll", 7), ("ppoll", 271), ("pselect6", 270), ("epoll_ctl", 233), ("epoll_pwait", 281),
        ("epoll_pwait2", 441), ("epoll_create1", 291), ("eventfd2", 290), ("pipe2", 293),

        // Connected sockets only: no call here makes or accepts a connection.
        ("shutdown", 48), ("getsockopt", 55), ("setsockopt", 54), ("getsockname", 51), ("getpeername", 52),

        // What the GC and the thread pool ask about the machine when memory is short or threads are added
        // (/proc/meminfo and /sys/devices/system/cpu/online through openat, which fails in the empty root,
        // then sysinfo); random seeds.
        ("sysinfo", 99), ("uname", 63), ("getrlimit", 97), ("getrandom", 318), ("get_mempolicy", 239),
        ("getuid", 102), ("geteuid", 107), ("getgid", 104), ("getegid", 108),

        // Read-only lookups by path: they find nothing in the sandbox's empty root, and a runtime path that
        // probes a file (a library's name when a P/Invoke binds late; the JIT host's assemblies, which it stats
        // and loads lazily) should fail there or read, not die.
        ("stat", 4), ("lstat", 6), ("access", 21), ("faccessat", 269), ("faccessat2", 439), ("readlink", 89),
        ("readlinkat", 267), ("statfs", 137), ("getdents64", 217), ("getcwd", 79),
    ];

    /// <summary>fcntl commands allowed (arg1): descriptor flags, status flags (O_NONBLOCK), locks, seals (read).</summary>
    public static readonly IReadOnlyList<uint> AllowedFcntlCommands =
    [
        0,    // F_DUPFD
        1,    // F_GETFD
        2,    // F_SETFD
        3,    // F_GETFL
        4,    // F_SETFL
        5,    // F_GETLK
        6,    // F_SETLK
        7,    // F_SETLKW
        36,   // F_OFD_GETLK
        37,   // F_OFD_SETLK (the disk image's lock)
        38,   // F_OFD_SETLKW
        1030, // F_DUPFD_CLOEXEC
        1034, // F_GET_SEALS
    ];

    /// <summary>ioctl requests allowed (arg1): readable bytes, non-blocking, close-on-exec, "is it a terminal".</summary>
    public static readonly IReadOnlyList<uint> AllowedIoctlRequests =
    [
        0x541B, // FIONREAD
        0x5421, // FIONBIO
        0x5451, // FIOCLEX
        0x5450, // FIONCLEX
        0x5401, // TCGETS (isatty)
        0x5413, // TIOCGWINSZ
    ];

    private const int SysKill = 62, SysTkill = 200, SysTgkill = 234, SysRtSigqueueinfo = 129, SysRtTgsigqueueinfo = 297;
    private const int SysClone = 56, SysClone3 = 435, SysOpenat = 257, SysIoctl = 16, SysFcntl = 72;
    private const int SysPrlimit64 = 302, SysSchedSetaffinity = 203, SysSchedSetscheduler = 144, SysSchedSetparam = 142, SysSetpriority = 141;
    private const int PrioProcess = 0;
    private const uint SchedOther = 0, SchedBatch = 3;

    private const long SysSeccomp = 317;
    private const int PrSetNoNewPrivs = 38;
    private const uint SeccompSetModeFilter = 1;
    private const uint SeccompFilterFlagTsync = 1;

    /// <summary>struct sock_fprog: the program's length and address.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }

    /// <summary>
    /// Installs the filter on every thread of this process, for good. <paramref name="ownPid"/> is this process's
    /// id as it sees it (<see cref="Environment.ProcessId"/>): the only process signals may go to.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Not Linux on x86-64 (the program checks for that arch).</exception>
    /// <exception cref="InvalidOperationException">The kernel refused; nothing was installed.</exception>
    public static void Install(int ownPid)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            throw new PlatformNotSupportedException("the seccomp filter is written for Linux on x86-64");
        }

        SockFilter[] program = BuildProgram(ownPid);

        // Unprivileged processes may install a filter only once they can never gain privileges (setuid programs).
        if (Prctl(PrSetNoNewPrivs, 1, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"prctl(PR_SET_NO_NEW_PRIVS) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        fixed (SockFilter* code = program)
        {
            SockFprog fprog = new() { Length = (ushort)program.Length, Filter = code };

            // TSYNC: the runtime's threads (GC, thread pool, finalizer, timers) exist already; all of them get it.
            long result = Seccomp(SysSeccomp, SeccompSetModeFilter, SeccompFilterFlagTsync, &fprog);
            if (result < 0)
            {
                throw new InvalidOperationException($"seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) failed: errno {Marshal.GetLastPInvokeError()}");
            }

            if (result > 0)
            {
                // With TSYNC a positive result is a thread that could not take the filter; then no thread has it.
                throw new InvalidOperationException($"seccomp could not apply the filter to thread {result}; nothing was installed");
            }
        }
    }

    /// <summary>The filter program for a process whose id is <paramref name="ownPid"/> (for tests and inspection).</summary>
    public static IReadOnlyList<SockFilter> Build(int ownPid) => BuildProgram(ownPid);

    private static SockFilter[] BuildProgram(int ownPid)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ownPid);
        uint self = (uint)ownPid;
        Assembler p = new();

        // Numbers mean different calls on other ABIs (i386 through int 0x80): only x86-64's are judged.
        p.Load(ArchOffset);
        p.Jump(JumpIfEqual, AuditArchX86_64, "x86-64", null);
        p.Return(KillProcess);
        p.Label("x86-64");
        p.Load(NrOffset);

        // x32 calls carry the x86-64 arch and their own numbers (bit 30 set): none is wanted.
        p.Jump(JumpIfAtLeast, X32SyscallBit, null, "not-x32");
        p.Return(KillProcess);
        p.Label("not-x32");

        // The ring's handoff waits and wakes (futex) and the control plane's messages are the hottest calls, and
        // their arguments are checked, so the kernel cannot cache them as always allowed: judged first, in a few
        // instructions, instead of after the whole list. A jump leaves the accumulator (the call's number) as it was.

        // futex, but not its priority-inheritance operations: on shared words they attach to another process's
        // thread by its id (and have been the way into the kernel more than once).
        p.Jump(JumpIfEqual, SysFutex, null, "after-futex");
        p.Load(ArgsOffset + 8);
        p.And(FutexCommandMask);
        foreach (uint command in (uint[])[FutexLockPi, FutexUnlockPi, FutexTrylockPi, FutexWaitRequeuePi, FutexCmpRequeuePi, FutexLockPi2])
        {
            p.Jump(JumpIfEqual, command, "kill-futex", null);
        }

        p.Return(Allow);
        p.Label("kill-futex");
        p.Return(KillProcess);
        p.Label("after-futex");

        // Messages on the connected sockets, but never out of band (MSG_OOB on UNIX sockets is young kernel code
        // with a record of bugs; nothing here sends urgent data).
        foreach ((int number, int flagsArgument) in (ReadOnlySpan<(int, int)>)[(SysSendto, 3), (SysRecvfrom, 3), (SysSendmsg, 2), (SysRecvmsg, 2)])
        {
            string after = $"after-{number}";
            p.Jump(JumpIfEqual, (uint)number, null, after);
            p.Load(ArgsOffset + (uint)(flagsArgument * 8));
            p.Jump(JumpIfAnyBit, MsgOob, $"kill-{number}", null);
            p.Return(Allow);
            p.Label($"kill-{number}");
            p.Return(KillProcess);
            p.Label(after);
        }

        foreach ((_, int number) in AllowedSyscalls)
        {
            p.Jump(JumpIfEqual, (uint)number, "allow", null);
        }

        p.Jump(JumpAlways, 0, "checked", null);
        p.Label("allow");
        p.Return(Allow);
        p.Label("checked");

        // Signals only to this process (arg0 is the target process, or for tkill the thread): never to the CPU
        // process or the launcher, never to a group (0, negative) or everyone (-1). The GC's suspension signal and
        // abort() are tgkill(own pid, thread).
        int[] signalling = [SysTgkill, SysKill, SysTkill, SysRtSigqueueinfo, SysRtTgsigqueueinfo];
        foreach (int number in signalling)
        {
            p.AllowIf(number, [(0, [self])]);
        }

        // Only the caller (0) or this process: the serving thread pins itself.
        int[] scheduling = [SysSchedSetaffinity, SysSchedSetparam];
        foreach (int number in scheduling)
        {
            p.AllowIf(number, [(0, [0, self])]);
        }

        // The JIT host's runtime resets every new thread to SCHED_OTHER by its thread id (pthread_setschedparam),
        // which no filter can tell from another process's: SCHED_OTHER (what every thread has anyway) for any
        // target. The serving thread asks for SCHED_BATCH for itself: that only for the caller (0) or this process,
        // so no other process's threads can be demoted. No SCHED_IDLE, no real time.
        p.Jump(JumpIfEqual, SysSchedSetscheduler, null, "after-setscheduler");
        p.Load(ArgsOffset + 8);
        p.Jump(JumpIfEqual, SchedOther, "allow-setscheduler", null);
        p.Jump(JumpIfEqual, SchedBatch, null, "kill-setscheduler");
        p.Load(ArgsOffset);
        p.Jump(JumpIfEqual, 0, "allow-setscheduler", null);
        p.Jump(JumpIfEqual, self, "allow-setscheduler", "kill-setscheduler");
        p.Label("kill-setscheduler");
        p.Return(KillProcess);
        p.Label("allow-setscheduler");
        p.Return(Allow);
        p.Label("after-setscheduler");

        p.AllowIf(SysSetpriority, [(0, [PrioProcess]), (1, [0, self])]); // not PRIO_USER: every process of the user

        // Queries about scheduling only of itself; elsewhere they answer EPERM (a runtime may ask and cope).
        foreach (int number in (int[])[SysSchedGetaffinity, SysSchedGetscheduler, SysSchedGetparam])
        {
            p.AllowIf(number, [(0, [0, self])], ErrnoAction | Eperm);
        }

        // prctl only for what the runtime was measured to do (name threads and mappings, read its own state);
        // anything else (PR_SET_DUMPABLE back to 1, PR_SET_MM, PR_SET_PTRACER, PR_SCHED_CORE, ...) answers EPERM.
        p.AllowIf(SysPrctl, [(0, [PrSetPdeathsig, PrGetPdeathsig, PrGetDumpable, PrSetName, PrGetName, PrSetVma])], ErrnoAction | Eperm);

        p.AllowIf(SysPrlimit64, [(0, [0, self])]); // the GC reads RLIMIT_AS; glibc's getrlimit is prlimit64(0, ...)
        p.AllowIf(SysFcntl, [(1, AllowedFcntlCommands)]);
        p.AllowIf(SysIoctl, [(1, AllowedIoctlRequests)]);

        // Threads, not processes: CLONE_THREAD and no new namespaces (glibc's pthread_create sets 0x3d0f00).
        p.Jump(JumpIfEqual, SysClone, null, "after-clone");
        p.Load(ArgsOffset);
        p.Jump(JumpIfAnyBit, CloneThread, null, "kill-clone");
        p.Jump(JumpIfAnyBit, CloneNewNamespaces, "kill-clone", null);
        p.Return(Allow);
        p.Label("kill-clone");
        p.Return(KillProcess);
        p.Label("after-clone");

        // clone3 passes its flags in a struct seccomp cannot read: ENOSYS makes glibc fall back to clone.
        p.Jump(JumpIfEqual, SysClone3, null, "after-clone3");
        p.Return(ErrnoAction | Enosys);
        p.Label("after-clone3");

        // Reading a file by path is harmless (the root is empty: the GC's /proc/meminfo just fails); asking to
        // write or create one fails like a read-only file system would, without killing the process.
        p.Jump(JumpIfEqual, SysOpenat, null, "after-openat");
        p.Load(ArgsOffset + (2 * 8));
        p.Jump(JumpIfAnyBit, OpenWriteFlags, null, "allow-openat");
        p.Return(ErrnoAction | Eacces);
        p.Label("allow-openat");
        p.Return(Allow);
        p.Label("after-openat");

        p.Return(KillProcess);
        return p.Link();
    }

    /// <summary>Builds a program with forward jumps to named labels (BPF jumps only forward), resolved at the end.</summary>
    private sealed class Assembler
    {
        private readonly List<(ushort Code, string? True, string? False, uint K)> _code = [];
        private readonly Dictionary<string, int> _labels = [];
        private int _blocks;

        public void Load(uint offset) => _code.Add((LoadWordAbsolute, null, null, offset));

        /// <summary>The accumulator &amp;= <paramref name="mask"/> (BPF_ALU | BPF_AND | BPF_K).</summary>
        public void And(uint mask) => _code.Add((0x54, null, null, mask));

        public void Return(uint action) => _code.Add((ReturnConstant, null, null, action));

        /// <summary>A jump: to <paramref name="ifTrue"/> or <paramref name="ifFalse"/> (null: the next instruction).</summary>
        public void Jump(ushort code, uint k, string? ifTrue, string? ifFalse) => _code.Add((code, ifTrue, ifFalse, k));

        public void Label(string name) => _labels.Add(name, _code.Count);

        /// <summary>
        /// Allows <paramref name="number"/> when every condition holds (the argument's low 32 bits, which is all
        /// the kernel reads of an int, is one of the values), kills the process when one does not; other calls go on.
        /// </summary>
        public void AllowIf(int number, IReadOnlyList<(int Arg, IReadOnlyList<uint> Values)> conditions, uint refusal = KillProcess)
        {
            string block = $"b{_blocks++}";
            Jump(JumpIfEqual, (uint)number, null, block + "-next");
            for (int c = 0; c < conditions.Count; c++)
            {
                string passed = c + 1 < conditions.Count ? $"{block}-c{c + 1}" : block + "-allow";
                Load(ArgsOffset + (uint)(conditions[c].Arg * 8));
                IReadOnlyList<uint> values = conditions[c].Values;
                for (int v = 0; v < values.Count; v++)
                {
                    Jump(JumpIfEqual, values[v], passed, v + 1 < values.Count ? null : block + "-kill");
                }

                if (c + 1 < conditions.Count)
                {
                    Label(passed);
                }
            }

            Label(block + "-kill");
            Return(refusal);
            Label(block + "-allow");
            Return(Allow);
            Label(block + "-next");
        }

        public SockFilter[] Link()
        {
            SockFilter[] program = new SockFilter[_code.Count];
            for (int i = 0; i < _code.Count; i++)
            {
                (ushort code, string? ifTrue, string? ifFalse, uint k) = _code[i];
                if (code == JumpAlways)
                {
                    program[i] = new SockFilter(code, 0, 0, (uint)Offset(i, ifTrue));
                }
                else if ((code & 0x07) == 0x05)
                {
                    int jt = Offset(i, ifTrue), jf = Offset(i, ifFalse);
                    if (jt > byte.MaxValue || jf > byte.MaxValue)
                    {
                        throw new InvalidOperationException($"jump at {i} is too long for classic BPF ({jt}, {jf})");
                    }

                    program[i] = new SockFilter(code, (byte)jt, (byte)jf, k);
                }
                else
                {
                    program[i] = new SockFilter(code, 0, 0, k);
                }
            }

            if (program.Length > 4096)
            {
                throw new InvalidOperationException($"the program has {program.Length} instructions; the kernel takes at most 4096");
            }

            return program;
        }

        /// <summary>Instructions skipped to reach <paramref name="label"/> from the one at <paramref name="at"/>.</summary>
        private int Offset(int at, string? label)
        {
            if (label is null)
            {
                return 0;
            }

            int skip = _labels[label] - at - 1;
            return skip >= 0 ? skip : throw new InvalidOperationException($"label {label} is behind instruction {at}; BPF jumps only forward");
        }
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Seccomp(long number, uint operation, uint flags, SockFprog* program);
}
