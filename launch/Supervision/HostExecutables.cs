using System.Diagnostics;

namespace SplitEmu.Launch.Supervision;

/// <summary>Finds the CPU and device process programs, which the build puts next to splitemu.</summary>
public static class HostExecutables
{
    /// <summary>The CPU process's program name.</summary>
    public const string CpuHost = "SplitEmu.CpuHost";

    /// <summary>The device process's program name.</summary>
    public const string DeviceHost = "SplitEmu.DeviceHost";

    /// <summary>
    /// A start description for <paramref name="program"/>: its native launcher if the build made one, else
    /// <c>dotnet program.dll</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither exists beside splitemu (a broken build).</exception>
    public static ProcessStartInfo StartInfo(string program)
    {
        string folder = AppContext.BaseDirectory;
        string native = Path.Combine(folder, program);
        if (File.Exists(native))
        {
            return new ProcessStartInfo(native);
        }

        string dll = Path.Combine(folder, program + ".dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{program} is missing from {folder}; rebuild splitemu", dll);
        }

        ProcessStartInfo info = new("dotnet");
        info.ArgumentList.Add(dll);
        return info;
    }
}
