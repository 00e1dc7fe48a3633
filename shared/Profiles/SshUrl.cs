using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace SplitEmu.Shared.Profiles;

/// <summary>
/// A host's address as profiles write it, <c>ssh://[user@]host[:port]</c>, as libvirt's <c>qemu+ssh://</c> and Docker's
/// <c>ssh://</c> contexts do. Parsed strictly: what reaches the ssh command line is a user and a host name that cannot
/// be read as an option (no leading <c>-</c>) and a port number, nothing else.
/// </summary>
/// <param name="User">The login name, or null for ssh's default (the local user, or ~/.ssh/config's).</param>
/// <param name="Host">A DNS name, an IPv4 address or an IPv6 address (written in brackets in the URL, kept without them here).</param>
/// <param name="Port">The TCP port, 22 unless the URL says otherwise.</param>
public readonly partial record struct SshUrl(string? User, string Host, int Port)
{
    /// <summary>The scheme every host URL starts with.</summary>
    public const string Scheme = "ssh://";

    /// <summary>SSH's port.</summary>
    public const int DefaultPort = 22;

    /// <summary>The destination argument of ssh: <c>user@host</c> or <c>host</c>.</summary>
    public string Destination => User is null ? Host : $"{User}@{Host}";

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="problem"/> says what is wrong and what was expected.</summary>
    public static bool TryParse(string text, out SshUrl url, out string problem)
    {
        url = default;
        const string expected = "expected ssh://[user@]host[:port]";
        if (!text.StartsWith(Scheme, StringComparison.Ordinal))
        {
            problem = $"'{text}' is not an ssh:// URL; {expected}";
            return false;
        }

        string rest = text[Scheme.Length..].TrimEnd('/');
        string? user = null;
        int at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            user = rest[..at];
            rest = rest[(at + 1)..];
            if (!UserPattern().IsMatch(user))
            {
                problem = $"'{user}' in '{text}' is not a user name; expected letters, digits, '.', '_' or '-', not starting with '-'";
                return false;
            }
        }

        string host;
        string? portText = null;
        if (rest.StartsWith('['))
        {
            int close = rest.IndexOf(']');
            host = close > 0 ? rest[1..close] : rest[1..];
            string after = close > 0 ? rest[(close + 1)..] : "";
            if (close > 0 && after.Length > 0)
            {
                portText = after.StartsWith(':') ? after[1..] : null;
                if (portText is null)
                {
                    problem = $"'{text}' has something after its bracketed address; {expected}";
                    return false;
                }
            }

            // No zone id (fe80::1%eth0): its text would reach ssh, which expands '%' tokens in some configurations.
            if (close < 0 || host.Contains('%') || !IPAddress.TryParse(host, out IPAddress? address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                problem = $"'[{host}]' in '{text}' is not an IPv6 address; {expected} (an IPv6 address without a zone id)";
                return false;
            }

            host = address.ToString(); // the parsed address, never the text as written
        }
        else
        {
            int colon = rest.IndexOf(':');
            host = colon >= 0 ? rest[..colon] : rest;
            portText = colon >= 0 ? rest[(colon + 1)..] : null;
            if (!HostPattern().IsMatch(host))
            {
                problem = $"'{host}' in '{text}' is not a host name; expected a DNS name or an IPv4 address (an IPv6 address in brackets), not starting with '-'";
                return false;
            }
        }

        int port = DefaultPort;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            problem = $"'{portText}' in '{text}' is not a port; expected 1-65535";
            return false;
        }

        url = new SshUrl(user, host, port);
        problem = "";
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Scheme}{(User is null ? "" : User + "@")}{(Host.Contains(':') ? $"[{Host}]" : Host)}{(Port == DefaultPort ? "" : $":{Port}")}";

    // \A and \z, not ^ and $: '$' also matches before a final newline, which would let "host\n" through.
    [GeneratedRegex(@"\A[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}\z")]
    private static partial Regex UserPattern();

    [GeneratedRegex(@"\A[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})\z")]
    private static partial Regex HostPattern();
}
