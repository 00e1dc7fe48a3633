using SplitEmu.Shared.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary>Host URLs reach the ssh command line: only a user, a host and a port get through, none readable as an option.</summary>
public sealed class SshUrlTests
{
    [Theory]
    [InlineData("ssh://lab", null, "lab", 22, "lab")]
    [InlineData("ssh://ops@lab.example.org", "ops", "lab.example.org", 22, "ops@lab.example.org")]
    [InlineData("ssh://ops@10.0.0.2:2222", "ops", "10.0.0.2", 2222, "ops@10.0.0.2")]
    [InlineData("ssh://[fd00::2]:2200/", null, "fd00::2", 2200, "fd00::2")]
    [InlineData("ssh://a.b_c@h-1", "a.b_c", "h-1", 22, "a.b_c@h-1")]
    [InlineData("ssh://[FD00:0::0002]", null, "fd00::2", 22, "fd00::2")]
    public void Parses(string text, string? user, string host, int port, string destination)
    {
        Assert.True(SshUrl.TryParse(text, out SshUrl url, out string problem), problem);
        Assert.Equal((user, host, port, destination), (url.User, url.Host, url.Port, url.Destination));
    }

    [Theory]
    [InlineData("lab", "not an ssh:// URL")]
    [InlineData("ssh://", "not a host name")]
    [InlineData("ssh://-oProxyCommand=x", "not a host name")]
    [InlineData("ssh://-l@host", "not a user name")]
    [InlineData("ssh://user@-host", "not a host name")]
    [InlineData("ssh://host:0", "not a port")]
    [InlineData("ssh://host:22x", "not a port")]
    [InlineData("ssh://host:65536", "not a port")]
    [InlineData("ssh://host/path", "not a host name")]
    [InlineData("ssh://ho st", "not a host name")]
    [InlineData("ssh://[::1", "not an IPv6 address")]
    [InlineData("ssh://[10.0.0.1]", "not an IPv6 address")]
    [InlineData("ssh://[::1]x", "after its bracketed address")]
    [InlineData("ssh://us$er@host", "not a user name")]
    [InlineData("ssh://evil\n", "not a host name")]
    [InlineData("ssh://root\n@host", "not a user name")]
    [InlineData("ssh://[fe80::1%eth0]", "not an IPv6 address")]
    [InlineData("ssh://[fe80::1%$(id)]", "not an IPv6 address")]
    public void Refuses_WithWhatIsWrong(string text, string why)
    {
        Assert.False(SshUrl.TryParse(text, out _, out string problem));
        Assert.Contains(why, problem);
    }

    [Theory]
    [InlineData("ssh://lab")]
    [InlineData("ssh://ops@10.0.0.2:2222")]
    [InlineData("ssh://[fd00::2]:2200")]
    public void PrintsAsWritten(string text)
    {
        Assert.True(SshUrl.TryParse(text, out SshUrl url, out _));
        Assert.Equal(text, url.ToString());
    }
}
