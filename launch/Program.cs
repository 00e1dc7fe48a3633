using System.CommandLine;
using SplitEmu.Launch.Commands;

// splitemu: starts and supervises SplitEmu machines. With no arguments it runs the built-in default machine.
RootCommand root = new("SplitEmu: an x86 machine emulator whose devices run in processes of their own.")
{
    RunCommand.Create(),
    ValidateCommand.Create(),
    CrashTestCommand.Create(),
    BenchCommand.Create(),
    MonitorCommand.Create(),
    ProfilesCommand.Create(),
};
root.SetAction((_, cancellationToken) => RunCommand.ExecuteAsync(null, [], null, null, cancellationToken));

ParseResult parsed = root.Parse(args);
// Signals are handled by the run itself (it stops the machine cleanly), not by the parser's default handler.
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
