using System.CommandLine;
using SplitEmu.Launch.Commands;
using SplitEmu.Launch.Host;

// Children (the CPU and device processes) get standard input, output and error, and nothing else this process inherited.
InheritedDescriptors.KeepFromChildren();

// splitemu: starts and supervises SplitEmu machines. With no arguments it runs the built-in default machine.
RootCommand root = new("SplitEmu: an x86 machine emulator whose devices run in processes of their own.")
{
    RunCommand.Create(),
    ValidateCommand.Create(),
    CrashTestCommand.Create(),
    BenchCommand.Create(),
    MonitorCommand.Create(),
    ProfilesCommand.Create(),
    HostsCommand.Create(),
    RemoteCommands.CreateBridge(),
    RemoteCommands.CreateServe(),
};
root.SetAction((_, cancellationToken) => RunCommand.ExecuteAsync(null, [], null, null, cancellationToken));

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Bad input is exit 2, like a bad profile; one line per mistake instead of the whole help text.
    foreach (System.CommandLine.Parsing.ParseError error in parsed.Errors)
    {
        Console.Error.WriteLine($"splitemu: {error.Message}");
    }

    Console.Error.WriteLine($"splitemu: see '{string.Join(' ', parsed.CommandResult.Command.Name == root.Name ? ["splitemu"] : ["splitemu", parsed.CommandResult.Command.Name])} --help'");
    return SplitEmu.Shared.Rpc.ExitCodes.BadInput;
}

// Signals are handled by the run itself (it stops the machine cleanly), not by the parser's default handler.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
