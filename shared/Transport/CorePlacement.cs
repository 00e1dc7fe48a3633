
namespace SplitEmu.Shared.Transport;

/// <summary>
/// The recommended placement of the two hot threads of a device channel (the vCPU thread and the device's
/// serving thread) for each wait policy on a small machine; see docs/ring-protocol.md section 5. Handoff is
/// only fast when both threads share a core (no cross-core wake-up); spin and hybrid want a core each
/// (spinning against a peer on the same core burns the peer's time slice). Apply it with <see cref="ThreadAffinity.PinCurrentThread"/> on the vCPU thread and
/// <c>DeviceHostAttachRequest.ServingCore</c> for the device.
/// </summary>
/// <remarks>
/// This is a placement for one vCPU. A machine with several leaves every thread to the scheduler: handoff would put
/// every serving thread on the bootstrap processor's core, so each application processor's access would wake a
/// thread queued behind a busy vCPU (`bench mmio` on 2 cores: 2 vCPUs on separate devices ~33 k reads/s pinned,
/// ~50 k unpinned). Placing several vCPUs and their devices is open work (docs/smp.md).
/// </remarks>
public static class CorePlacement
{
    /// <summary>The core the vCPU thread should run on, or null to leave it to the scheduler (one core only).</summary>
    public static int? VcpuCore => Environment.ProcessorCount >= 2 ? 0 : null;

    /// <summary>The core for a device's serving thread under <paramref name="policy"/>, or null for no pinning.</summary>
    public static int? ServingCore(WaitPolicy policy) => policy switch
    {
        WaitPolicy.Handoff => VcpuCore,
        _ => Environment.ProcessorCount >= 2 ? 1 : null,
    };

    /// <summary>The core of the only vCPU's thread of a machine with <paramref name="vcpus"/> vCPUs, or null (see the remarks).</summary>
    public static int? VcpuCoreOf(int vcpus) => vcpus == 1 ? VcpuCore : null;

    /// <summary>The core of a device's serving thread on a machine with <paramref name="vcpus"/> vCPUs, or null (see the remarks).</summary>
    public static int? ServingCoreOf(WaitPolicy policy, int vcpus) => vcpus == 1 ? ServingCore(policy) : null;
}
