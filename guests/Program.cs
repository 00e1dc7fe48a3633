// Writes the guest images as flat binaries: SplitEmu.Guests <outdir>
// The build runs this after compiling (see SplitEmu.Guests.csproj) into $(OutDir)guests/.
using SplitEmu.Guests;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: SplitEmu.Guests <outdir>");
    return 2;
}

Directory.CreateDirectory(args[0]);
File.WriteAllBytes(Path.Combine(args[0], "hello.bin"), HelloGuest.Build());
File.WriteAllBytes(Path.Combine(args[0], "echo.bin"), EchoGuest.Build());
File.WriteAllBytes(Path.Combine(args[0], "boot-disk.img"), BootSectorGuest.BuildDisk());
return 0;
