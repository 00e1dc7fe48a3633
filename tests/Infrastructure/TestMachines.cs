namespace SplitEmu.Tests.Infrastructure;

/// <summary>Profiles and guest images for tests that need a machine other than the default.</summary>
public static class TestMachines
{
    /// <summary>`jmp $`: a guest that runs until stopped from outside.</summary>
    public static readonly byte[] SpinForever = [0xEB, 0xFE];

    /// <summary>`ud2` with no IDT: #UD, then #GP, double fault, triple fault: the CPU shuts down.</summary>
    public static readonly byte[] TripleFault = [0x0F, 0x0B];

    /// <summary>
    /// Writes <paramref name="image"/> and a profile that loads it at 1 MiB with the default machine's devices
    /// (isolated UART com1, inline debug-exit) into <paramref name="folder"/>; returns the profile's path.
    /// </summary>
    public static string WriteProfile(TempFolder folder, byte[] image, string uartPlacement = "isolated")
    {
        string imagePath = folder.File("guest.bin");
        File.WriteAllBytes(imagePath, image);
        return WriteProfileFor(folder, imagePath, uartPlacement);
    }

    /// <summary>
    /// Like <see cref="WriteProfile"/>, for an image file that already exists (or deliberately does not);
    /// <paramref name="extraDevices"/> are JSON objects appended after com1 and exit.
    /// </summary>
    public static string WriteProfileFor(TempFolder folder, string imagePath, string uartPlacement = "isolated", params string[] extraDevices)
    {
        string profilePath = folder.File("machine.json");
        File.WriteAllText(profilePath, $$"""
            {
              "schemaVersion": 1,
              "name": "test",
              "memory": { "sizeMiB": 16 },
              "load": [ { "file": "{{imagePath}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x200000" },
              "console": "com1",
              "devices": [
                { "id": "com1", "type": "uart16550", "io": "0x3f8", "irq": 4, "placement": "{{uartPlacement}}" },
                { "id": "exit", "type": "debug-exit", "io": "0x501", "placement": "inline" }{{string.Concat(extraDevices.Select(d => ",\n    " + d))}}
              ]
            }
            """);
        return profilePath;
    }
}
