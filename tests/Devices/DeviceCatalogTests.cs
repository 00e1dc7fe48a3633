using SplitEmu.DeviceHost.Devices;
using SplitEmu.DeviceHost.Sdk;

namespace SplitEmu.Tests.Devices;

/// <summary>
/// The catalog is derived from the models (issue 20, item 5): a model class the catalog leaves out could never be
/// named by a profile, and a model that does not describe itself would need a second registry again.
/// </summary>
public sealed class DeviceCatalogTests
{
    private static readonly Type[] s_models =
        [.. typeof(DeviceCatalog).Assembly.GetTypes().Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IDevice).IsAssignableFrom(t))];

    [Fact]
    public void EveryModelOfTheLibrary_DescribesItself_AndIsInTheCatalogUnderItsOwnName()
    {
        Assert.NotEmpty(s_models);
        foreach (Type model in s_models)
        {
            Type contract = typeof(IDeviceModel<>).MakeGenericType(model);
            Assert.True(contract.IsAssignableFrom(model), $"{model.Name} implements IDevice but not IDeviceModel<{model.Name}>: it names no type for profiles");
            string name = (string)model.GetField("TypeName")!.GetValue(null)!;
            Assert.True(DeviceCatalog.All.ContainsKey(name), $"{model.Name} ('{name}') is not in DeviceCatalog");
        }
    }

    [Fact]
    public void EveryTypeTheCatalogBuilds_IsAModelOfTheLibrary_AndTheOthersAreTheCpuProcesss()
    {
        string[] modelNames = [.. s_models.Select(m => (string)m.GetField("TypeName")!.GetValue(null)!).Order()];
        string[] built = [.. DeviceCatalog.All.Values.Where(t => !t.InlineOnly).Select(t => t.Name).Order()];

        Assert.Equal(modelNames, built);
        Assert.All(DeviceCatalog.All.Values.Where(t => t.InlineOnly), t => Assert.DoesNotContain(t.Name, modelNames));
    }
}
