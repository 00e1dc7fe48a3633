using System.Diagnostics;
using SplitEmu.Launch.Commands;

namespace SplitEmu.Launch.Supervision;

/// <summary>Finds the CPU and device process programs, which the build puts next to splitemu.</summary>
public static class HostExecutables
{
    /// <summary>The CPU process's program name.</summary>
    public const string CpuHost = "SplitEmu.CpuHost";

    /// <summary>The device process's program name.</summary>
    public const string DeviceHost = "SplitEmu.DeviceHost";

    /// <summary>The launcher's own program (its assembly name).</summary>
    public const string Launcher = "splitemu";

    /// <summary>
    /// A device process whose devices run on another host: the launcher's own program running
    /// <see cref="RemoteCommands.BridgeName"/> (docs/remote-devices.md).
    /// </summary>
    public const string RemoteBridge = "splitemu remote-bridge";

    /// <summary>
    /// util-linux's setsid(1): runs a program in a session (and so a process group) of its own. Started by .NET,
    /// a child is never a group leader, so setsid execs the program in place: the process id stays the child's.
    /// </summary>
    /// <summary>The .NET runtime switch for its diagnostic IPC server and debugger transport.</summary>
    public const string DiagnosticsVariable = "DOTNET_EnableDiagnostics";

    /// <summary>Where the build puts NativeAOT programs, beside splitemu.</summary>
    public const string NativeFolder = "native";

    /// <summary>Where the build puts ReadyToRun (precompiled, still JIT-capable) programs with their dependencies, beside splitemu.</summary>
    public const string ReadyToRunFolder = "r2r";

    /// <summary>Set to 1 to start the JIT-compiled hosts even where native or ReadyToRun ones were built (to compare them).</summary>
    public const string JitHostsVariable = "SPLITEMU_JIT_HOSTS";

    private static readonly string? s_setsid = new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    /// <summary>
    /// Which build of <paramref name="program"/> <see cref="StartInfo"/> starts: "native" (NativeAOT), "r2r"
    /// (ReadyToRun: precompiled, the JIT for what is hot or generated) or "jit".
    /// </summary>
    public static string Kind(string program) =>
        program == RemoteBridge ? "remote" : NativePath(program) is not null ? "native" : ReadyToRunPath(program) is not null ? "r2r" : "jit";

    /// <summary>The NativeAOT build of <paramref name="program"/> beside splitemu, unless absent or turned off.</summary>
    private static string? NativePath(string program) => BuiltPath(NativeFolder, program);

    /// <summary>The ReadyToRun build of <paramref name="program"/> beside splitemu, unless absent or turned off.</summary>
    private static string? ReadyToRunPath(string program) => BuiltPath(ReadyToRunFolder, program);

    private static string? BuiltPath(string folder, string program)
    {
        string path = Path.Combine(AppContext.BaseDirectory, folder, program);
        return Environment.GetEnvironmentVariable(JitHostsVariable) != "1" && File.Exists(path) ? path : null;
    }

    /// <summary>
    /// A start description for <paramref name="program"/>: its NativeAOT build if there is one (native/), else its
    /// ReadyToRun build (r2r/), else its .NET launcher if the build made one, else <c>dotnet program.dll</c>. The child gets a session of its own, so that the terminal's signals (Ctrl-C goes
    /// to the whole foreground process group) reach the launcher only: the launcher stops its children itself,
    /// in order, instead of finding them dead and reporting a device failure.
    /// </summary>
    /// <param name="program">The host.</param>
    /// <param name="sandboxed">Start it in the device sandbox's namespaces (<see cref="SandboxNamespaces"/>).</param>
    /// <exception cref="FileNotFoundException">Neither exists beside splitemu (a broken build).</exception>
    public static ProcessStartInfo StartInfo(string program, bool sandboxed = false)
    {
        string folder = AppContext.BaseDirectory;
        string[] subcommand = program == RemoteBridge ? [RemoteCommands.BridgeName] : [];
        program = program == RemoteBridge ? Launcher : program;
        string apphost = Path.Combine(folder, program);
        string dll = Path.Combine(folder, program + ".dll");
        string[] command;
        if (subcommand.Length > 0)
        {
            // The launcher's own program: never precompiled apart, found where the launcher is.
            command = File.Exists(apphost) ? [apphost, .. subcommand] : ["dotnet", dll, .. subcommand];
        }
        else if ((NativePath(program) ?? ReadyToRunPath(program)) is { } precompiled)
        {
            command = [precompiled];
        }
        else if (File.Exists(apphost))
        {
            command = [apphost];
        }
        else if (File.Exists(dll))
        {
            command = ["dotnet", dll];
        }
        else
        {
            throw new FileNotFoundException($"{program} is missing from {folder}; rebuild splitemu", dll);
        }

        if (sandboxed)
        {
            command = SandboxNamespaces.Wrap(command);
        }

        if (s_setsid is not null)
        {
            command = [s_setsid, .. command];
        }

        ProcessStartInfo info = new(command[0]);
        foreach (string argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        // The .NET runtime's diagnostic IPC socket (dotnet-diagnostic-PID-*-socket) and debugger pipes
        // (clr-debug-pipe-PID-*-in/out) live in /tmp and are removed only on a clean exit: every killed child
        // would leave three files behind. Turn both off, unless the user asked for them (to trace a child).
        info.Environment.TryAdd(DiagnosticsVariable, "0");
        return info;
    }
}
