namespace SplitEmu.Shared.Profiles;

/// <summary>Whether a device type uses an interrupt line.</summary>
public enum IrqUse
{
    /// <summary>The type takes no <c>irq</c> (it raises none, or its lines are fixed; see <see cref="DeviceTypeInfo.FixedIrqs"/>); <c>irq</c> is refused.</summary>
    None,

    /// <summary><c>irq</c> may be given or left out (the model then polls or stays silent).</summary>
    Optional,

    /// <summary><c>irq</c> must be given.</summary>
    Required,
}
