using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Transport;

public sealed class InputPayloadTests
{
    [Fact]
    public void Request_CarriesAtMostEightBytes_AndUnpackGivesThemBack()
    {
        RingMessage request = InputPayload.Request(device: 1, region: 0, "0123456789"u8);
        byte[] unpacked = new byte[InputPayload.MaxBytes];

        int count = InputPayload.Unpack(in request, unpacked);

        Assert.Equal(MessageKind.Input, request.Kind);
        Assert.Equal(8, count);
        Assert.Equal("01234567"u8.ToArray(), unpacked);
    }

    [Fact]
    public void Unpack_RefusesACountOutsideOneToEight()
    {
        RingMessage request = InputPayload.Request(device: 0, region: 0, "a"u8);
        request.AccessSize = 9;

        Assert.Equal(-1, InputPayload.Unpack(in request, new byte[InputPayload.MaxBytes]));
    }
}
