using SplitEmu.Shared.Profiles;

namespace SplitEmu.DeviceHost.Sdk;

/// <summary>
/// A device model as profiles name it: what it is (its type's name, ports, interrupt use, options, docs line) and how
/// one is built. The device catalog is derived from the models that implement this, so adding a type is one class
/// and one line in the catalog; the launcher's validation, the JSON Schema check and the docs table follow from it.
/// </summary>
/// <typeparam name="TSelf">The model's own class.</typeparam>
public interface IDeviceModel<TSelf> : IDevice
    where TSelf : IDeviceModel<TSelf>
{
    /// <summary>What a profile may say about this type.</summary>
    static abstract DeviceTypeInfo Type { get; }

    /// <summary>Builds the device a validated profile entry describes, reaching the machine through <paramref name="context"/>.</summary>
    static abstract TSelf Create(DeviceConfig config, IDeviceContext context);
}
