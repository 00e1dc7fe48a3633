using System.Diagnostics;

namespace SplitEmu.Launch.Bench;

// QEMU as the peer of `bench cpu`: the same compute loop, booted with -kernel as a multiboot image.
public static partial class QemuPeer
{
    /// <summary>
    /// Boots <paramref name="multibootImage"/> (CpuBenchmark.MultibootComputeLoop) under TCG and times it from its own
    /// output: the 'S' and 'E' marks it writes to the debug console around the loop, so firmware, loader and QEMU's
    /// start-up are not counted. Returns the seconds between the marks, or null (with why) when it did not get there.
    /// QEMU is killed at <paramref name="timeout"/>; nothing is left behind.
    /// </summary>
    public static async Task<(double? Seconds, string Problem)> TimeComputeLoopAsync(byte[] multibootImage, ushort markPort, ushort exitPort, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string folder = Directory.CreateTempSubdirectory("splitemu-qemu-cpu-").FullName;
        try
        {
            string image = Path.Combine(folder, "loop.elf");
            await File.WriteAllBytesAsync(image, multibootImage, cancellationToken).ConfigureAwait(false);
            ProcessStartInfo info = new(Executable)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            foreach (string argument in (string[])[
                "-machine", "pc,accel=tcg", "-m", "16", "-display", "none", "-nodefaults", "-no-reboot",
                "-kernel", image, "-debugcon", "stdio", "-global", $"isa-debugcon.iobase=0x{markPort:x}",
                "-device", $"isa-debug-exit,iobase=0x{exitPort:x},iosize=1"])
            {
                info.ArgumentList.Add(argument);
            }

            using Process qemu = Process.Start(info) ?? throw new InvalidOperationException($"could not start {Executable}");
            Task<string> errors = qemu.StandardError.ReadToEndAsync(CancellationToken.None);
            using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            long? started = null, ended = null;
            byte[] buffer = new byte[64];
            try
            {
                Stream output = qemu.StandardOutput.BaseStream;
                while (ended is null)
                {
                    int read = await output.ReadAsync(buffer, limit.Token).ConfigureAwait(false);
                    long now = Stopwatch.GetTimestamp();
                    if (read == 0)
                        break;
                    foreach (byte b in buffer.AsSpan(0, read))
                    {
                        if (b == 'S')
                            started ??= now;
                        else if (b == 'E' && started is not null)
                            ended = now;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // the time limit: reported below
            }
            finally
            {
                if (!qemu.HasExited)
                {
                    try
                    {
                        await qemu.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        qemu.Kill(entireProcessTree: true);
                        await qemu.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                    }
                }
            }

            string said = (await errors.ConfigureAwait(false)).Trim();
            return started is long s && ended is long e
                ? (Stopwatch.GetElapsedTime(s, e).TotalSeconds, "")
                : (null, $"QEMU did not print both marks within {timeout.TotalSeconds:0} s{(said.Length > 0 ? ": " + said : "")}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
