namespace SplitEmu.CpuHost.Platform;

/// <summary>
/// One interrupt message on the APIC bus, as an ICR write or an I/O APIC redirection entry produces it.
/// </summary>
/// <param name="Mode">What the destinations do with it.</param>
/// <param name="Vector">The vector (fixed, lowest priority) or start page (start-up); ignored by the other modes.</param>
/// <param name="Logical">
/// Destination mode: false for physical (<paramref name="Destination"/> is an APIC ID, 0xFF every APIC), true
/// for logical (matched against each APIC's LDR under its DFR model, flat or cluster).
/// </param>
/// <param name="Destination">The destination field (ICR bits 56-63, redirection entry bits 56-63).</param>
/// <param name="LevelTriggered">
/// Trigger mode of a fixed or lowest-priority vector: a level-triggered one sets the vector's TMR bit, and its EOI
/// is broadcast to the I/O APICs.
/// </param>
/// <param name="Shorthand">The ICR destination shorthand; <see cref="ApicShorthand.None"/> from the I/O APIC.</param>
public readonly record struct ApicMessage(
    ApicDeliveryMode Mode,
    byte Vector,
    bool Logical,
    byte Destination,
    bool LevelTriggered = false,
    ApicShorthand Shorthand = ApicShorthand.None);
