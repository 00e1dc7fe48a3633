using SplitEmu.DeviceHost.Hosting.Sandbox;

namespace SplitEmu.Tests.Hosting;

/// <summary>
/// The device sandbox's seccomp program, run here by a small classic-BPF interpreter on made-up
/// <c>struct seccomp_data</c> records rather than installed: what it allows, what it kills, and what it answers
/// with an errno. (Installing it in a real device process is tested with the sandbox.)
/// </summary>
public sealed class SeccompFilterTests
{
    private const int OwnPid = 4242;

    // x86-64 system call numbers (asm/unistd_64.h).
    private const int Read = 0, Openat = 257, Ioctl = 16, Fcntl = 72, Getpid = 39, Execve = 59, Execveat = 322;
    private const int Kill = 62, Tkill = 200, Tgkill = 234, RtSigqueueinfo = 129, RtTgsigqueueinfo = 297;
    private const int Clone = 56, Clone3 = 435, Prlimit64 = 302, SchedSetaffinity = 203, SchedSetscheduler = 144, Setpriority = 141;

    /// <summary>glibc 2.36's pthread_create: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID.</summary>
    private const ulong PthreadCloneFlags = 0x3d0f00;

    private const ulong Sigchld = 17;
    private const uint AuditArchI386 = 0x4000_0003;
    private const uint Enosys = 38, Eacces = 13;

    private static readonly IReadOnlyList<SockFilter> s_program = SeccompFilter.Build(OwnPid);

    [Fact]
    public void Program_StartsWithTheArchCheck_AndKillsAnyOtherArch()
    {
        Assert.Equal(new SockFilter(0x20, 0, 0, SeccompFilter.ArchOffset), s_program[0]); // ld [arch]
        Assert.Equal(0x15, s_program[1].Code); // jeq #AUDIT_ARCH_X86_64
        Assert.Equal(SeccompFilter.AuditArchX86_64, s_program[1].K);
        SockFilter otherwise = s_program[2 + s_program[1].Jf];
        Assert.Equal(new SockFilter(0x06, 0, 0, SeccompFilter.KillProcess), otherwise);

        // i386's getpid is 20 and its 39 is mkdir: numbers from another ABI must never reach the list.
        Assert.Equal(SeccompFilter.KillProcess, RunOnArch(AuditArchI386, Getpid));
        Assert.Equal(SeccompFilter.KillProcess, RunOnArch(AuditArchI386, 20));
        Assert.Equal(SeccompFilter.Allow, Run(Getpid));
    }

    [Fact]
    public void X32Calls_AreKilled_ThoughTheyCarryTheX8664Arch()
    {
        Assert.Contains(s_program.Take(8), i => i.Code == 0x35 && i.K == SeccompFilter.X32SyscallBit); // jge #0x40000000
        Assert.Equal(SeccompFilter.KillProcess, Run((int)SeccompFilter.X32SyscallBit | Getpid));
        Assert.Equal(SeccompFilter.KillProcess, Run((int)SeccompFilter.X32SyscallBit | Read));
        Assert.Equal(SeccompFilter.KillProcess, Run(-1));
    }

    [Theory]
    [InlineData(Kill)]
    [InlineData(Tkill)]
    [InlineData(Tgkill)]
    [InlineData(RtSigqueueinfo)]
    [InlineData(RtTgsigqueueinfo)]
    public void Signals_GoOnlyToThisProcess(int call)
    {
        Assert.Equal(SeccompFilter.Allow, Run(call, OwnPid, 9));
        Assert.Equal(SeccompFilter.KillProcess, Run(call, OwnPid + 1, 9)); // the CPU process, the launcher
        Assert.Equal(SeccompFilter.KillProcess, Run(call, OwnPid - 1, 9));
        Assert.Equal(SeccompFilter.KillProcess, Run(call, 0, 9));          // the process group
        Assert.Equal(SeccompFilter.KillProcess, Run(call, unchecked((ulong)-1), 9)); // every process the user has
        Assert.Equal(SeccompFilter.KillProcess, Run(call, unchecked((ulong)-OwnPid), 9)); // a group by id
        Assert.Equal(SeccompFilter.KillProcess, Run(call, 1, 9));
    }

    [Fact]
    public void Kill_ReadsOnlyThePidsLow32Bits_AsTheKernelDoes()
    {
        // pid_t is an int: the kernel ignores the register's upper half, so the filter must too (both ways).
        Assert.Equal(SeccompFilter.Allow, Run(Kill, 0xffff_ffff_0000_0000UL | OwnPid, 9));
        Assert.Equal(SeccompFilter.KillProcess, Run(Kill, ((ulong)OwnPid << 32) | (OwnPid + 1), 9));
    }

    [Fact]
    public void Clone_MakesThreads_NeverProcesses()
    {
        Assert.Equal(SeccompFilter.Allow, Run(Clone, PthreadCloneFlags));
        Assert.Equal(SeccompFilter.KillProcess, Run(Clone, Sigchld));                  // fork()
        Assert.Equal(SeccompFilter.KillProcess, Run(Clone, 0x4000 | 0x100 | Sigchld)); // vfork(): CLONE_VFORK|CLONE_VM
        Assert.Equal(SeccompFilter.KillProcess, Run(Clone, 0));
        Assert.Equal(SeccompFilter.KillProcess, Run(Clone, PthreadCloneFlags | 0x4000_0000)); // a thread in a new network namespace
        Assert.Equal(SeccompFilter.KillProcess, Run(Clone, PthreadCloneFlags | 0x0002_0000)); // ... or mount namespace
    }

    [Fact]
    public void Clone3_FailsWithEnosys_SoGlibcFallsBackToClone()
    {
        Assert.Equal(SeccompFilter.ErrnoAction | Enosys, Run(Clone3, 0x1000));
    }

    [Theory]
    [InlineData(Execve)]
    [InlineData(Execveat)]
    [InlineData(57)]  // fork
    [InlineData(58)]  // vfork
    [InlineData(101)] // ptrace
    [InlineData(310)] // process_vm_readv
    [InlineData(311)] // process_vm_writev
    [InlineData(434)] // pidfd_open
    [InlineData(438)] // pidfd_getfd
    [InlineData(424)] // pidfd_send_signal
    [InlineData(165)] // mount
    [InlineData(166)] // umount2
    [InlineData(155)] // pivot_root
    [InlineData(161)] // chroot
    [InlineData(272)] // unshare
    [InlineData(308)] // setns
    [InlineData(41)]  // socket
    [InlineData(42)]  // connect
    [InlineData(49)]  // bind
    [InlineData(50)]  // listen
    [InlineData(43)]  // accept
    [InlineData(288)] // accept4
    [InlineData(53)]  // socketpair
    [InlineData(105)] // setuid
    [InlineData(117)] // setresuid
    [InlineData(116)] // setgroups
    [InlineData(126)] // capset
    [InlineData(246)] // kexec_load
    [InlineData(320)] // kexec_file_load
    [InlineData(321)] // bpf
    [InlineData(298)] // perf_event_open
    [InlineData(250)] // keyctl
    [InlineData(248)] // add_key
    [InlineData(425)] // io_uring_setup
    [InlineData(426)] // io_uring_enter
    [InlineData(323)] // userfaultfd
    [InlineData(175)] // init_module
    [InlineData(313)] // finit_module
    [InlineData(317)] // seccomp
    [InlineData(319)] // memfd_create
    [InlineData(77)]  // ftruncate
    [InlineData(87)]  // unlink
    [InlineData(2)]   // open (glibc opens with openat; the old call is not needed)
    [InlineData(274)] // get_robust_list
    [InlineData(312)] // kcmp
    [InlineData(160)] // setrlimit (prlimit64 is checked instead)
    [InlineData(500)] // a number no kernel has yet
    public void ForbiddenCalls_KillTheProcess(int call)
    {
        Assert.Equal(SeccompFilter.KillProcess, Run(call));
        Assert.DoesNotContain(SeccompFilter.AllowedSyscalls, s => s.Number == call);
    }

    [Theory]
    [InlineData(24)]  // sched_yield: the ring's waits
    [InlineData(202)] // futex
    [InlineData(44)]  // sendto
    [InlineData(45)]  // recvfrom: the socket transport
    [InlineData(232)] // epoll_wait
    [InlineData(17)]  // pread64: the IDE disk
    [InlineData(18)]  // pwrite64
    [InlineData(74)]  // fsync
    [InlineData(75)]  // fdatasync
    [InlineData(73)]  // flock (LOCK_UN when the image closes)
    [InlineData(9)]   // mmap: the GC
    [InlineData(10)]  // mprotect
    [InlineData(11)]  // munmap
    [InlineData(28)]  // madvise
    [InlineData(324)] // membarrier
    [InlineData(273)] // set_robust_list: new threads
    [InlineData(334)] // rseq
    [InlineData(60)]  // exit: retiring threads
    [InlineData(231)] // exit_group
    [InlineData(14)]  // rt_sigprocmask
    [InlineData(15)]  // rt_sigreturn
    [InlineData(3)]   // close
    [InlineData(48)]  // shutdown
    [InlineData(98)]  // getrusage
    [InlineData(99)]  // sysinfo
    [InlineData(230)] // clock_nanosleep
    [InlineData(318)] // getrandom
    [InlineData(4)]   // stat: the JIT host's assembly probing
    [InlineData(131)] // sigaltstack: the JIT host's new threads
    public void MeasuredCalls_AreAllowed(int call)
    {
        Assert.Equal(SeccompFilter.Allow, Run(call, 1, 2, 3, 4, 5, 6));
    }

    [Fact]
    public void CallsWithCheckedArguments_AllowWhatTheHostDoes_AndRefuseTheRest()
    {
        const int Prctl = 157, Futex = 202, Recvmsg = 47, Sendto = 44, SchedGetaffinity = 204;
        Assert.Equal(SeccompFilter.Allow, Run(Prctl, 15));                      // PR_SET_NAME: thread names
        Assert.Equal(SeccompFilter.Allow, Run(Prctl, 0x53564d41));              // PR_SET_VMA: the GC names its mappings
        Assert.Equal(SeccompFilter.ErrnoAction | 1, Run(Prctl, 4, 1));          // PR_SET_DUMPABLE back on: EPERM
        Assert.Equal(SeccompFilter.ErrnoAction | 1, Run(Prctl, 22, 2));         // PR_SET_SECCOMP
        Assert.Equal(SeccompFilter.ErrnoAction | 1, Run(Prctl, 0x59616d61, 1)); // PR_SET_PTRACER
        Assert.Equal(SeccompFilter.Allow, Run(SchedGetaffinity, 0, 8));
        Assert.Equal(SeccompFilter.Allow, Run(SchedGetaffinity, OwnPid, 8));
        Assert.Equal(SeccompFilter.ErrnoAction | 1, Run(SchedGetaffinity, OwnPid + 1, 8));
        Assert.Equal(SeccompFilter.Allow, Run(Futex, 0x1000, 128));             // FUTEX_WAIT_PRIVATE
        Assert.Equal(SeccompFilter.Allow, Run(Futex, 0x1000, 1));               // FUTEX_WAKE on a shared ring word
        Assert.Equal(SeccompFilter.KillProcess, Run(Futex, 0x1000, 6 | 128));   // FUTEX_LOCK_PI_PRIVATE
        Assert.Equal(SeccompFilter.KillProcess, Run(Futex, 0x1000, 12));        // FUTEX_CMP_REQUEUE_PI
        Assert.Equal(SeccompFilter.Allow, Run(Recvmsg, 5, 0x7000, 0x40000000)); // MSG_CMSG_CLOEXEC
        Assert.Equal(SeccompFilter.KillProcess, Run(Recvmsg, 5, 0x7000, 1));    // MSG_OOB
        Assert.Equal(SeccompFilter.Allow, Run(Sendto, 5, 0x7000, 64, 0x4000));  // MSG_NOSIGNAL
        Assert.Equal(SeccompFilter.KillProcess, Run(Sendto, 5, 0x7000, 64, 0x4001));
    }

    [Fact]
    public void EveryListedCall_IsAllowedWhateverItsArguments()
    {
        Assert.Equal(SeccompFilter.AllowedSyscalls.Count, SeccompFilter.AllowedSyscalls.Select(s => s.Number).Distinct().Count());
        Assert.Equal(SeccompFilter.AllowedSyscalls.Count, SeccompFilter.AllowedSyscalls.Select(s => s.Name).Distinct().Count());
        foreach ((string name, int number) in SeccompFilter.AllowedSyscalls)
        {
            Assert.True(Run(number, ulong.MaxValue, 0x1234_5678_9abc_def0, 0, 7) == SeccompFilter.Allow, $"{name} ({number}) is listed but not allowed");
        }
    }

    [Fact]
    public void Scheduling_AndLimits_ReachOnlyThisProcess()
    {
        Assert.Equal(SeccompFilter.Allow, Run(SchedSetaffinity, 0, 8));         // the serving thread pins itself
        Assert.Equal(SeccompFilter.Allow, Run(SchedSetaffinity, OwnPid, 8));
        Assert.Equal(SeccompFilter.KillProcess, Run(SchedSetaffinity, OwnPid + 1, 8));
        Assert.Equal(SeccompFilter.Allow, Run(SchedSetscheduler, 0, 3));          // SCHED_BATCH for the serving thread
        Assert.Equal(SeccompFilter.Allow, Run(SchedSetscheduler, OwnPid + 7, 0)); // the JIT runtime's new thread, by tid
        Assert.Equal(SeccompFilter.Allow, Run(SchedSetscheduler, OwnPid, 3));
        Assert.Equal(SeccompFilter.KillProcess, Run(SchedSetscheduler, OwnPid + 7, 3)); // demoting another process's thread
        Assert.Equal(SeccompFilter.KillProcess, Run(SchedSetscheduler, 0, 5));    // SCHED_IDLE
        Assert.Equal(SeccompFilter.KillProcess, Run(SchedSetscheduler, 0, 1));    // SCHED_FIFO
        Assert.Equal(SeccompFilter.KillProcess, Run(SchedSetscheduler, 0, 2));    // SCHED_RR
        Assert.Equal(SeccompFilter.Allow, Run(Prlimit64, 0, 9));                 // the GC reads RLIMIT_AS
        Assert.Equal(SeccompFilter.KillProcess, Run(Prlimit64, OwnPid + 1, 9));
        Assert.Equal(SeccompFilter.Allow, Run(Setpriority, 0, 0, 19));           // PRIO_PROCESS, the caller
        Assert.Equal(SeccompFilter.KillProcess, Run(Setpriority, 0, OwnPid + 1, 19));
        Assert.Equal(SeccompFilter.KillProcess, Run(Setpriority, 2, 0, 19));     // PRIO_USER: every process of the user
    }

    [Fact]
    public void Fcntl_AndIoctl_TakeOnlyListedCommands()
    {
        Assert.Equal(SeccompFilter.Allow, Run(Fcntl, 5, 3));      // F_GETFL
        Assert.Equal(SeccompFilter.Allow, Run(Fcntl, 5, 4));      // F_SETFL (O_NONBLOCK)
        Assert.Equal(SeccompFilter.Allow, Run(Fcntl, 5, 37));     // F_OFD_SETLK
        Assert.Equal(SeccompFilter.Allow, Run(Fcntl, 5, 1034));   // F_GET_SEALS
        Assert.Equal(SeccompFilter.KillProcess, Run(Fcntl, 5, 8));    // F_SETOWN: SIGIO to another process
        Assert.Equal(SeccompFilter.KillProcess, Run(Fcntl, 5, 10));   // F_SETSIG
        Assert.Equal(SeccompFilter.KillProcess, Run(Fcntl, 5, 15));   // F_SETOWN_EX
        Assert.Equal(SeccompFilter.KillProcess, Run(Fcntl, 5, 1033)); // F_ADD_SEALS
        Assert.Equal(SeccompFilter.Allow, Run(Ioctl, 5, 0x541B));      // FIONREAD
        Assert.Equal(SeccompFilter.Allow, Run(Ioctl, 5, 0x5421));      // FIONBIO
        Assert.Equal(SeccompFilter.KillProcess, Run(Ioctl, 0, 0x5412)); // TIOCSTI: typing into a terminal
        Assert.Equal(SeccompFilter.KillProcess, Run(Ioctl, 5, 0x8901)); // FIOSETOWN
    }

    [Fact]
    public void Openat_Reads_ButWritingOrCreatingFailsWithEacces()
    {
        const ulong AtFdcwd = unchecked((ulong)-100), ReadOnly = 0, Cloexec = 0x80000, WriteOnly = 1, ReadWrite = 2, Create = 0x40;
        Assert.Equal(SeccompFilter.Allow, Run(Openat, AtFdcwd, 0x1000, ReadOnly)); // the GC's /proc/meminfo
        Assert.Equal(SeccompFilter.Allow, Run(Openat, AtFdcwd, 0x1000, ReadOnly | Cloexec));
        Assert.Equal(SeccompFilter.ErrnoAction | Eacces, Run(Openat, AtFdcwd, 0x1000, WriteOnly | Create | Cloexec));
        Assert.Equal(SeccompFilter.ErrnoAction | Eacces, Run(Openat, AtFdcwd, 0x1000, ReadWrite));
        Assert.Equal(SeccompFilter.ErrnoAction | Eacces, Run(Openat, AtFdcwd, 0x1000, 0x410000 | ReadWrite)); // O_TMPFILE
    }

    [Fact]
    public void Program_IsValidClassicBpf_EveryPathEndingInAReturn()
    {
        Assert.InRange(s_program.Count, 1, 4096);
        Assert.Equal(0x06, s_program[^1].Code); // the last instruction returns
        for (int pc = 0; pc < s_program.Count; pc++)
        {
            SockFilter i = s_program[pc];
            Assert.True(i.Code is 0x20 or 0x05 or 0x15 or 0x35 or 0x45 or 0x54 or 0x06, $"instruction {pc} {i} uses an opcode the interpreter does not know");
            if (i.Code is 0x15 or 0x35 or 0x45)
            {
                Assert.InRange(pc + 1 + Math.Max(i.Jt, i.Jf), 0, s_program.Count - 1);
            }
            else if (i.Code == 0x05)
            {
                Assert.InRange(pc + 1 + (long)i.K, 0L, s_program.Count - 1L);
            }
            else if (i.Code == 0x20)
            {
                Assert.True(i.K % 4 == 0 && i.K < 64, $"instruction {pc} loads outside struct seccomp_data");
            }
        }
    }

    [Fact]
    public void Build_DependsOnlyOnThePid_AndRefusesNoPid()
    {
        Assert.Equal(s_program, SeccompFilter.Build(OwnPid));
        Assert.NotEqual(s_program, SeccompFilter.Build(OwnPid + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SeccompFilter.Build(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SeccompFilter.Build(-1));
    }

    /// <summary>Runs the program on <c>struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; }</c>.</summary>
    private static uint Run(int nr, params ulong[] args) => RunOnArch(SeccompFilter.AuditArchX86_64, nr, args);

    private static uint RunOnArch(uint arch, int nr, params ulong[] args)
    {
        byte[] data = new byte[64];
        BitConverter.TryWriteBytes(data.AsSpan(0), nr);
        BitConverter.TryWriteBytes(data.AsSpan(4), arch);
        BitConverter.TryWriteBytes(data.AsSpan(8), 0x7f00_1234_5678UL); // instruction pointer
        for (int a = 0; a < args.Length; a++)
        {
            BitConverter.TryWriteBytes(data.AsSpan(16 + (8 * a)), args[a]);
        }

        return Interpret(s_program, data);
    }

    /// <summary>The classic BPF subset seccomp programs use: word loads, constant jumps, AND with a constant, constant returns.</summary>
    private static uint Interpret(IReadOnlyList<SockFilter> program, byte[] data)
    {
        uint a = 0;
        int pc = 0;
        for (int steps = 0; steps <= program.Count; steps++)
        {
            Assert.InRange(pc, 0, program.Count - 1);
            SockFilter i = program[pc++];
            switch (i.Code)
            {
                case 0x20: // BPF_LD | BPF_W | BPF_ABS
                    a = BitConverter.ToUInt32(data, (int)i.K);
                    break;
                case 0x05: // BPF_JMP | BPF_JA
                    pc += (int)i.K;
                    break;
                case 0x15: // BPF_JEQ | BPF_K
                    pc += a == i.K ? i.Jt : i.Jf;
                    break;
                case 0x35: // BPF_JGE | BPF_K
                    pc += a >= i.K ? i.Jt : i.Jf;
                    break;
                case 0x45: // BPF_JSET | BPF_K
                    pc += (a & i.K) != 0 ? i.Jt : i.Jf;
                    break;
                case 0x54: // BPF_ALU | BPF_AND | BPF_K
                    a &= i.K;
                    break;
                case 0x06: // BPF_RET | BPF_K
                    return i.K;
                default:
                    Assert.Fail($"instruction {pc - 1} {i}: opcode the interpreter does not know");
                    break;
            }
        }

        Assert.Fail("the program ran more steps than it has instructions (classic BPF jumps only forward)");
        return 0;
    }
}
