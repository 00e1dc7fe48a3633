using System.Diagnostics;
using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Remote;

/// <summary>What <c>splitemu hosts check</c> found about one host.</summary>
/// <param name="Name">The host's name in the profile.</param>
/// <param name="Url">Its URL as the profile wrote it.</param>
/// <param name="Info">What it offers, when it answered; null otherwise.</param>
/// <param name="Problem">Why it did not, in a line; null when it did.</param>
public sealed record HostCheck(string Name, string Url, HostInfo? Info, string? Problem)
{
    /// <summary>Most characters of a remote answer or of ssh's errors kept: a host cannot flood the launcher.</summary>
    private const int MaxOutputChars = 64 * 1024;

    /// <summary>Whether the host answered as a splitemu host.</summary>
    public bool Reachable => Info is not null;

    /// <summary>
    /// Connects to <paramref name="host"/> and asks its splitemu what it offers (<c>hosts info --json</c>), within
    /// <paramref name="timeout"/>; the ssh process is killed if it runs longer, so nothing is left behind.
    /// </summary>
    public static async Task<HostCheck> RunAsync(string name, HostConfig host, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!SshUrl.TryParse(host.Url, out SshUrl url, out string problem))
        {
            return new HostCheck(name, host.Url, null, problem); // validated before; a check never throws for a host
        }

        ProcessStartInfo start = SshCommand.StartInfo(host, url, ["hosts", "info", "--json"], timeout);
        using Process ssh = new() { StartInfo = start };
        try
        {
            ssh.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new HostCheck(name, host.Url, null, $"cannot run {SshCommand.Program} ({e.Message}); install the OpenSSH client");
        }

        ssh.StandardInput.Close(); // BatchMode already refuses prompts; nothing reads from us either
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        Task<string> output = ReadBoundedAsync(ssh.StandardOutput);
        Task<string> errors = ReadBoundedAsync(ssh.StandardError);
        try
        {
            // The pipes too: a process ssh left behind (a ProxyCommand's) could hold them open past ssh's exit.
            await Task.WhenAll(ssh.WaitForExitAsync(deadline.Token), output, errors).WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            ssh.Kill(entireProcessTree: true);
            await ssh.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return new HostCheck(name, host.Url, null, $"no answer within {timeout.TotalSeconds:0.#} s");
        }

        string answer = await output.ConfigureAwait(false);
        string said = LastLine(await errors.ConfigureAwait(false));
        return ssh.ExitCode switch
        {
            0 when HostInfo.Parse(answer.Trim()) is { } info => new HostCheck(name, host.Url, info, null),
            0 => new HostCheck(name, host.Url, null, $"'{host.Splitemu} hosts info' answered something else than a splitemu host would: {Shorten(answer)}"),
            SshCommand.SshFailed => new HostCheck(name, host.Url, null, $"ssh failed: {said}{Hint(said, host)}"),
            127 => new HostCheck(name, host.Url, null, $"no splitemu there: '{host.Splitemu}' was not found ({said}); set hosts.{name}.splitemu to its path"),
            int code => new HostCheck(name, host.Url, null, $"'{host.Splitemu} hosts info' exited with code {code}: {said}"),
        };
    }

    private static string Hint(string said, HostConfig host) =>
        said.Contains("Host key verification failed", StringComparison.Ordinal)
            ? $" (its host key is not in {host.KnownHosts ?? "~/.ssh/known_hosts"}, or differs from the one there: check its fingerprint with the host's owner, then add it; splitemu never accepts an unknown key)"
            : said.Contains("Permission denied", StringComparison.Ordinal)
                ? " (no key of yours was accepted; ssh runs in batch mode and never asks for a password)"
                : "";

    private static async Task<string> ReadBoundedAsync(StreamReader reader)
    {
        char[] buffer = new char[MaxOutputChars];
        int filled = 0;
        int read;
        while (filled < buffer.Length && (read = await reader.ReadAsync(buffer.AsMemory(filled)).ConfigureAwait(false)) > 0)
        {
            filled += read;
        }

        string text = new(buffer, 0, filled);
        await reader.BaseStream.CopyToAsync(Stream.Null).ConfigureAwait(false); // the rest is dropped, never buffered
        return text;
    }

    private static string LastLine(string text) =>
        Shorten(text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(nothing on its standard error)");

    /// <summary>One line of at most 200 printable characters of untrusted text.</summary>
    private static string Shorten(string text)
    {
        string line = new([.. text.Trim().Select(c => char.IsControl(c) ? ' ' : c)]);
        return line.Length <= 200 ? line : line[..200] + "...";
    }
}
