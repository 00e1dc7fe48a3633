using System.Net.Sockets;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Rpc;

/// <summary>Memory passed as descriptors (SCM_RIGHTS): what arrives is the same memory, found by its token.</summary>
public sealed unsafe class DescriptorChannelTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly DescriptorChannel _sender;
    private readonly DescriptorChannel _receiver;

    public DescriptorChannelTests()
    {
        string control = _folder.File("child.sock");
        using Socket listener = DescriptorChannel.Listen(control);
        Task<Socket> accepted = listener.AcceptAsync();
        _receiver = DescriptorChannel.Connect(control);
        _sender = DescriptorChannel.Over(accepted.Wait(TestDeadlines.Seconds(5)) ? accepted.Result : throw new TimeoutException("no connection"));
    }

    [Fact]
    public void APassedDescriptor_MapsTheSameMemory()
    {
        using SealedSharedMemory owner = SealedSharedMemory.Create("test-pass", 4096);
        owner.Base[100] = 0x5A;

        ulong token = _sender.Send(owner.Descriptor);
        using SealedSharedMemory received = SealedSharedMemory.Open(_receiver.Receive(token, TestDeadlines.Seconds(5)), 4096);

        Assert.Equal(0x5A, received.Base[100]);
        received.Base[200] = 0xA5;
        Assert.Equal(0xA5, owner.Base[200]);
        Assert.NotEqual(owner.Descriptor, received.Descriptor); // a new descriptor of the receiver's own
    }

    [Fact]
    public void DescriptorsAskedForOutOfOrder_AreEachFoundByTheirToken()
    {
        using SealedSharedMemory first = SealedSharedMemory.Create("test-first", 4096);
        using SealedSharedMemory second = SealedSharedMemory.Create("test-second", 4096);
        first.Base[0] = 1;
        second.Base[0] = 2;

        ulong firstToken = _sender.Send(first.Descriptor);
        ulong secondToken = _sender.Send(second.Descriptor);
        using SealedSharedMemory gotSecond = SealedSharedMemory.Open(_receiver.Receive(secondToken, TestDeadlines.Seconds(5)), 4096);
        using SealedSharedMemory gotFirst = SealedSharedMemory.Open(_receiver.Receive(firstToken, TestDeadlines.Seconds(5)), 4096);

        Assert.NotEqual(firstToken, secondToken);
        Assert.Equal(2, gotSecond.Base[0]);
        Assert.Equal(1, gotFirst.Base[0]);
    }

    [Fact]
    public void ADescriptorNeverSent_TimesOut()
    {
        Assert.Throws<TimeoutException>(() => _receiver.Receive(12345, TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void AClosedChannel_IsAnError_NotAHang()
    {
        _sender.Dispose();

        Assert.Throws<IOException>(() => _receiver.Receive(1, TestDeadlines.Seconds(5)));
    }

    public void Dispose()
    {
        _sender.Dispose();
        _receiver.Dispose();
        _folder.Dispose();
    }
}
