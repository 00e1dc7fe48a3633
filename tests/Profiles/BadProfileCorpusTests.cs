using SplitEmu.Launch.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary>
/// The bad-profile corpus (<c>tests/Profiles/Bad/*.json</c>): each file must produce exactly the
/// listed errors, in order, formatted as <c>file:line:col: $.path: message</c>. File names are shown
/// relative to the corpus folder because the loader's working directory is that folder.
/// </summary>
public sealed class BadProfileCorpusTests
{
    /// <summary>File name, then every error it must produce.</summary>
    public static TheoryData<string, string[]> Corpus { get; } = new()
    {
        { "bad-hex.json", ["bad-hex.json:23:7: $.devices[0].io: '0x3g8' is not a hex number; expected an integer or a hex string starting with 0x"] },
        { "bad-name.json", ["bad-name.json:3:3: $.name: 'my machine' is not a valid machine name; expected 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the monitor socket)"] },
        { "bad-placement.json", ["bad-placement.json:25:7: $.devices[0].placement: 'separate' is not a valid placement; expected one of: inline, isolated, group"] },
        {
            "cmdline-without-kernel.json",
            [
                "cmdline-without-kernel.json:7:3: $.cmdline: cmdline is used only with kernel; set \"kernel\" to a bzImage, or remove cmdline (null removes an inherited value)",
                "cmdline-without-kernel.json:8:3: $.initrd: initrd is used only with kernel; set \"kernel\" to a bzImage, or remove initrd (null removes an inherited value)",
            ]
        },
        { "comment.json", ["comment.json:3:18: not valid JSON: '/' is an invalid start of a property name. Expected a '\"'."] },
        { "config-object-value.json", ["config-object-value.json:26:9: $.devices[0].config.baud: expected a string, number or boolean setting, found an object"] },
        { "config-unknown-key.json", ["config-unknown-key.json:26:9: $.devices[0].config.baud: unknown config key 'baud' for device type uart16550; expected no config keys (device type uart16550 reads none)"] },
        { "console-not-a-uart.json", ["console-not-a-uart.json:18:3: $.console: device 'exit' is a debug-exit, which cannot be a console; expected the id of a uart16550 or debugcon device"] },
        { "console-unknown-device.json", ["console-unknown-device.json:18:3: $.console: no device with id 'com9'; expected the id of a uart16550 or debugcon device (one of: com1)"] },
        { "duplicate-device-id.json", ["duplicate-device-id.json:33:7: $.devices[2].id: device id 'com1' is already used by $.devices[0]; expected unique ids"] },
        { "duplicate-key.json", ["duplicate-key.json:4:3: $.name: duplicate property 'name'; expected each property once per object"] },
        { "empty.json", ["empty.json: the file is empty; expected a JSON object"] },
        { "entry-missing.json", ["entry-missing.json:13:3: $.cpu: missing required property 'entry'; expected the entry address (EIP) for mode protected32-flat"] },
        { "cpu-count-nine.json", ["cpu-count-nine.json:17:5: $.cpu.count: 9 vCPUs is out of range; expected 1-8"] },
        { "entry-outside-ram.json", ["entry-outside-ram.json:15:5: $.cpu.entry: entry 0x1000000 is outside RAM; expected an address 0x0-0xffffff for mode protected32-flat"] },
        {
            "entry-with-reset-mode.json",
            [
                "entry-with-reset-mode.json:15:5: $.cpu.entry: entry is used only with mode protected32-flat, not reset; remove it (null removes an inherited value)",
                "entry-with-reset-mode.json:16:5: $.cpu.stack: stack is used only with mode protected32-flat, not reset; remove it (null removes an inherited value)",
            ]
        },
        { "enum-wrong-case.json", ["enum-wrong-case.json:25:7: $.devices[0].whileDown: 'AllOnes' is not a valid whileDown; expected one of: stall, all-ones"] },
        { "extends-cycle-a.json", ["extends-cycle-b.json:3:3: $.extends: extends cycle: extends-cycle-a.json -> extends-cycle-b.json -> extends-cycle-a.json; expected a chain of profiles that ends in one without extends"] },
        {
            "extends-duplicate-id-in-child.json",
            [
                "extends-duplicate-id-in-child.json:11:5: $.devices[3]: missing required property 'type'; expected one of: uart16550, debug-exit, testdev, bench-register, i8259, ioapic, i440fx, piix3-isa, piix3-ide, i8254, mc146818, debugcon, fw-cfg, i8042, acpi-pm",
                "extends-duplicate-id-in-child.json:12:7: $.devices[3].id: device id 'com2' is already used by $.devices[2]; expected unique ids",
            ]
        },
        { "extends-missing-file.json", ["extends-missing-file.json:3:3: $.extends: profile no-such-profile.json not found; expected a path to a JSON profile"] },
        { "extends-not-a-string.json", ["extends-not-a-string.json:3:3: $.extends: expected a string (the path of the profile to extend), found a number"] },
        { "extends-self.json", ["extends-self.json:3:3: $.extends: extends cycle: extends-self.json -> extends-self.json; expected a chain of profiles that ends in one without extends"] },
        { "firmware-default-mode.json", ["firmware-default-mode.json:7:3: $.firmware: firmware needs cpu.mode reset, but the mode is the default protected32-flat; expected \"cpu\": { \"mode\": \"reset\" } (the CPU starts at the reset vector F000:FFF0 inside the firmware)"] },
        { "firmware-file-missing.json", ["firmware-file-missing.json:11:5: $.firmware.file: firmware image 'no-bios.bin' not found at no-bios.bin; expected an existing file (relative paths are relative to the profile's folder; ${splitemu}/ is the splitemu folder)"] },
        { "firmware-too-small.json", ["firmware-too-small.json:11:5: $.firmware.file: firmware image 'tiny.bin' is 16 bytes; expected 64 KiB to 16 MiB (65536-16777216 bytes)"] },
        { "firmware-unknown-key.json", ["firmware-unknown-key.json:12:5: $.firmware.address: unknown property 'address'; expected one of: file"] },
        { "firmware-with-protected-mode.json", ["firmware-with-protected-mode.json:8:5: $.cpu.mode: mode protected32-flat cannot start firmware; expected reset when firmware is set (the CPU starts at the reset vector F000:FFF0 inside the firmware)"] },
        { "firmware-without-file.json", ["firmware-without-file.json:10:15: $.firmware: missing required property 'file'; expected the path of the BIOS ROM image"] },
        { "fractional-irq.json", ["fractional-irq.json:24:7: $.devices[0].irq: 4.5 is not an integer; expected an integer"] },
        { "group-missing.json", ["group-missing.json:20:5: $.devices[0]: missing required property 'group'; expected a process group name when placement is group"] },
        {
            "group-mixed-settings.json",
            [
                "group-mixed-settings.json:36:7: $.devices[1].waitPolicy: device 'com2' has waitPolicy spin but 'com1', the first of process group 'serial', has handoff; the devices of one process share its waitPolicy: give each the same",
                "group-mixed-settings.json:37:7: $.devices[1].restart: device 'com2' has restart { policy never, maxRestarts 5, windowMs 10000, backoffMs 10, giveUp halt } but 'com1', the first of process group 'serial', has { policy on-crash, maxRestarts 5, windowMs 10000, backoffMs 10, giveUp halt }; the devices of one process share its restart: give each the same",
            ]
        },
        { "group-of-one.json", ["group-of-one.json:26:7: $.devices[0].group: process group 'serial' has only device 'com1'; expected two or more devices per group (use placement isolated for a device alone in its process)"] },
        { "group-without-group-placement.json", ["group-without-group-placement.json:25:7: $.devices[0].group: group is used only with placement group, not isolated; set placement to group or remove group (null removes an inherited value)"] },
        {
            "device-hosts-bad.json",
            [
                "device-hosts-bad.json:52:49: $.devices[3].failover[4]: expected a string (a host name), found a number",
                "device-hosts-bad.json:32:7: $.devices[0].host: no host named 'nowhere'; expected one of: lab, rig",
                "device-hosts-bad.json:39:7: $.devices[1].host: an inline device runs in the CPU process, on this machine; expected placement isolated or group for a device on another host",
                "device-hosts-bad.json:45:7: $.devices[2].failover: failover is used only with host (the hosts to move to after it); set host or remove failover",
                "device-hosts-bad.json:52:20: $.devices[3].failover[0]: host 'lab' is already the device's host; expected each host once",
                "device-hosts-bad.json:52:34: $.devices[3].failover[2]: host 'rig' is already in the list; expected each host once",
                "device-hosts-bad.json:52:41: $.devices[3].failover[3]: no host named 'mars'; expected one of: lab, rig",
                "device-hosts-bad.json:68:7: $.devices[5].host: device 'g2' runs on host 'rig' but 'g1', the first of process group 'pair', runs on host 'lab'; the devices of one process share its host and failover: give each the same",
                "device-hosts-bad.json:79:5: $.devices[7].failover: device 'u2' runs on host 'lab' but 'u1', the first of process group 'twins', runs on host 'lab' (failover rig); the devices of one process share its host and failover: give each the same",
            ]
        },
        { "device-host-without-hosts.json", ["device-host-without-hosts.json:24:7: $.devices[0].host: no host named 'lab': the profile has no hosts; expected a name defined in \"hosts\""] },
        {
            "hosts-bad.json",
            [
                "hosts-bad.json:47:7: $.hosts['9bad'].user: unknown property 'user'; expected one of: url, identity, knownHosts, splitemu",
                "hosts-bad.json:35:7: $.hosts.lab.url: '-oProxyCommand=touch' in 'ssh://-oProxyCommand=touch@x' is not a user name; expected letters, digits, '.', '_' or '-', not starting with '-'",
                "hosts-bad.json:38:7: $.hosts.rig.url: 'http://rig.example' is not an ssh:// URL; expected ssh://[user@]host[:port]",
                "hosts-bad.json:41:7: $.hosts.far.url: '70000' in 'ssh://ops@far.example:70000' is not a port; expected 1-65535",
                "hosts-bad.json:42:7: $.hosts.far.identity: private key 'no-such-key' not found at no-such-key; expected an existing file (relative paths are relative to the profile's folder; ${splitemu}/ is the splitemu folder)",
                "hosts-bad.json:43:7: $.hosts.far.splitemu: '' is not a command; expected the path or name of splitemu on that host (1-4096 of A-Z a-z 0-9 _ . / + -, not starting with '-')",
                "hosts-bad.json:45:5: $.hosts['9bad']: '9bad' is not a valid host name; expected 1-64 letters, digits, '_' or '-', starting with a letter",
            ]
        },
        {
            "ide-disk-missing.json",
            [
                "ide-disk-missing.json:31:9: $.devices[2].config.primary-master: file 'no-disk.img' not found at no-disk.img; expected an existing file (relative paths are relative to the profile's folder; ${splitemu}/ is the splitemu folder)",
                "ide-disk-missing.json:32:9: $.devices[2].config.secondary-master: disk image 'tiny.bin' is 16 bytes; expected a positive multiple of 512 bytes (whole sectors)",
            ]
        },
        { "inline-only-isolated.json", ["inline-only-isolated.json:30:7: $.devices[2].placement: device type i8259 runs only in the CPU process (interrupt delivery is the CPU's); expected placement inline, or leave placement out"] },
        { "invalid-device-id.json", ["invalid-device-id.json:27:7: $.devices[1].id: 'debug exit' is not a valid device id; expected 1-64 letters, digits, '_' or '-', starting with a letter"] },
        { "io-on-fixed-port-device.json", ["io-on-fixed-port-device.json:30:7: $.devices[2].io: device type i440fx has only fixed I/O ports (0xcf8-0xcff); remove io"] },
        { "kernel-not-a-bzimage.json", ["kernel-not-a-bzimage.json:5:3: $.kernel: kernel 'bios-64k.bin' has no boot flag 0xAA55 at offset 0x1FE: not a Linux kernel image"] },
        { "kernel-too-short.json", ["kernel-too-short.json:5:3: $.kernel: kernel 'tiny.bin' is 16 bytes, too short to hold a Linux setup header (at least 612 bytes)"] },
        {
            "kernel-with-firmware-and-entry.json",
            [
                "kernel-with-firmware-and-entry.json:6:3: $.kernel: kernel and firmware exclude each other (a kernel is booted directly, without firmware); remove one of them",
                "kernel-with-firmware-and-entry.json:6:3: $.kernel: kernel 'tiny.bin' is 16 bytes, too short to hold a Linux setup header (at least 612 bytes)",
                "kernel-with-firmware-and-entry.json:7:12: $.cpu.mode: mode reset cannot boot a kernel; the boot protocol starts it in protected32-flat (remove cpu.mode)",
                "kernel-with-firmware-and-entry.json:7:29: $.cpu.entry: entry is decided by the kernel's boot protocol when kernel is set; remove it (null removes an inherited value)",
            ]
        },
        { "io-past-last-port.json", ["io-past-last-port.json:23:7: $.devices[0].io: ports 0xfffc-0x10003 run past the last port 0xffff; expected a base port at most 0xfff8"] },
        { "io-wider-than-16-bits.json", ["io-wider-than-16-bits.json:23:7: $.devices[0].io: 0x11170 is out of range; expected 0x0-0xffff"] },
        { "irq-conflict.json", ["irq-conflict.json:36:7: $.devices[2].irq: IRQ 4 is already used by device 'com1'; expected a free line 0-15"] },
        { "irq-on-debug-exit.json", ["irq-on-debug-exit.json:31:7: $.devices[1].irq: device type debug-exit raises no interrupts; remove irq"] },
        { "irq-on-fixed-line.json", ["irq-on-fixed-line.json:35:7: $.devices[3].irq: IRQ 14 is already used by device 'ide' (piix3-ide always drives it); expected a free line 0-15"] },
        { "irq-on-ide.json", ["irq-on-ide.json:30:7: $.devices[2].irq: device type piix3-ide always drives IRQ 14 and 15 itself; remove irq"] },
        { "irq-out-of-range.json", ["irq-out-of-range.json:24:7: $.devices[0].irq: IRQ 16 is out of range; expected a line 0-15"] },
        { "irq-wrong-type.json", ["irq-wrong-type.json:24:7: $.devices[0].irq: expected an integer, found a boolean"] },
        { "load-beyond-ram.json", ["load-beyond-ram.json:10:7: $.load[0].address: image 'tiny.bin' (16 bytes at 0xfffffc) ends at 0x100000c, beyond the end of RAM at 0x1000000; expected it to fit in RAM"] },
        { "load-file-missing.json", ["load-file-missing.json:9:7: $.load[0].file: image 'missing.bin' not found at missing.bin; expected an existing file (relative paths are relative to the profile's folder; ${splitemu}/ is the splitemu folder)"] },
        { "load-missing-address.json", ["load-missing-address.json:8:5: $.load[0]: missing required property 'address'; expected the guest-physical load address"] },
        { "load-not-an-array.json", ["load-not-an-array.json:7:3: $.load: expected an array, found an object"] },
        { "load-unknown-variable.json", ["load-unknown-variable.json:9:7: $.load[0].file: '${splitmu}/guests/hello.bin' uses an unknown variable; expected no variable or a path starting with ${splitemu}/ or ${linux-guest}/"] },
        { "memory-decimal-string.json", ["memory-decimal-string.json:5:5: $.memory.sizeMiB: '16' is not a hex number; expected an integer or a hex string starting with 0x"] },
        { "memory-too-large.json", ["memory-too-large.json:5:5: $.memory.sizeMiB: memory size 4096 MiB is out of range; expected 1-3072"] },
        { "memory-too-small.json", ["memory-too-small.json:5:5: $.memory.sizeMiB: memory size 0 MiB is out of range; expected 1-3072"] },
        { "missing-device-type.json", ["missing-device-type.json:26:5: $.devices[1]: missing required property 'type'; expected one of: uart16550, debug-exit, testdev, bench-register, i8259, ioapic, i440fx, piix3-isa, piix3-ide, i8254, mc146818, debugcon, fw-cfg, i8042, acpi-pm"] },
        { "missing-schema-version.json", ["missing-schema-version.json:1:1: $: missing required property 'schemaVersion'; expected 1 (the schema version this splitemu reads)"] },
        { "mmio-on-port-device.json", ["mmio-on-port-device.json:31:7: $.devices[1].mmio: device type debug-exit has no MMIO range; remove mmio"] },
        { "mmio-over-firmware.json", ["mmio-over-firmware.json:30:7: $.devices[2].mmio: MMIO 0xffffffc0-0xffffffff of device 'bench' overlap the firmware ROM 0xffff0000-0xffffffff; expected a free range"] },
        { "negative-address.json", ["negative-address.json:10:7: $.load[0].address: -16 is out of range; expected 0x0-0xffffffffffffffff"] },
        { "not-json.json", ["not-json.json:1:2: not valid JSON: 'this is not a profile\\n' is an invalid JSON literal. Expected the literal 'true'."] },
        { "port-overlap.json", ["port-overlap.json:35:7: $.devices[2].io: I/O ports 0x3fc-0x403 of device 'com2' overlap ports 0x3f8-0x3ff of device 'com1'; expected a free range"] },
        { "restart-negative.json", ["restart-negative.json:27:9: $.devices[0].restart.maxRestarts: maxRestarts -1 is out of range; expected 0-1000 restarts"] },
        { "restart-window-zero.json", ["restart-window-zero.json:26:9: $.devices[0].restart.windowMs: windowMs 0 is out of range; expected 1-3600000 ms"] },
        {
            "several-errors.json",
            [
                "several-errors.json:5:5: $.memory.sizeMiB: memory size 0 MiB is out of range; expected 1-3072",
                "several-errors.json:18:3: $.console: device 'exit' is a debug-exit, which cannot be a console; expected the id of a uart16550 or debugcon device",
                "several-errors.json:24:7: $.devices[0].irq: IRQ 99 is out of range; expected a line 0-15",
                "several-errors.json:20:5: $.devices[0]: missing required property 'group'; expected a process group name when placement is group",
            ]
        },
        { "spin-budget-without-hybrid.json", ["spin-budget-without-hybrid.json:26:7: $.devices[0].spinBudget: spinBudget is used only with waitPolicy hybrid, not spin; set waitPolicy to hybrid or remove spinBudget (null removes an inherited value)"] },
        { "spin-budget-zero.json", ["spin-budget-zero.json:26:7: $.devices[0].spinBudget: spin budget 0 is out of range; expected 1-100000000 iterations"] },
        { "stack-zero.json", ["stack-zero.json:16:5: $.cpu.stack: stack 0x0 is outside RAM; expected 0x1-0x1000000 (the stack grows down from this address)"] },
        { "top-level-array.json", ["top-level-array.json:1:1: $: expected a JSON object at the top level, found an array"] },
        { "trailing-data.json", ["trailing-data.json:5:1: not valid JSON: '{' is invalid after a single JSON value. Expected end of data."] },
        { "trailing-comma.json", ["trailing-comma.json:3:16: not valid JSON: The JSON object contains a trailing comma at the end."] },
        { "truncated.json", ["truncated.json:14:29: not valid JSON: Expected end of string, but instead reached end of data."] },
        { "ioapic-over-mmio.json", ["ioapic-over-mmio.json:17:7: $.devices[0].mmio: MMIO 0xfec00800-0xfec0083f of device 'bench' overlap fixed MMIO 0xfec00000-0xfec00fff of device 'ioapic' (ioapic); expected a free range"] },
        { "lapic-over-mmio.json", ["lapic-over-mmio.json:18:7: $.devices[0].mmio: MMIO 0xfee00300-0xfee0033f of device 'bench' overlap the local APICs' registers 0xfee00000-0xfee00fff; expected a free range"] },
        { "two-ioapics.json", ["two-ioapics.json:20:7: $.devices[1].type: fixed MMIO 0xfec00000-0xfec00fff of device 'ioapic2' (ioapic) overlap fixed MMIO 0xfec00000-0xfec00fff of device 'ioapic' (ioapic); expected no other device on these addresses (device type ioapic always uses them)"] },
        { "two-pics.json", ["two-pics.json:33:7: $.devices[3].type: fixed I/O ports 0x20-0x21 of device 'pic2' (i8259) overlap fixed ports 0x20-0x21 of device 'pic' (i8259); expected no other device on these ports (device type i8259 always uses them)"] },
        { "uart-on-fw-cfg-ports.json", ["uart-on-fw-cfg-ports.json:30:7: $.devices[2].io: I/O ports 0x510-0x517 of device 'com3' overlap fixed ports 0x510-0x511 of device 'fwcfg' (fw-cfg); expected a free range"] },
        { "uart-without-io.json", ["uart-without-io.json:20:5: $.devices[0]: missing required property 'io'; expected the first of the 8 I/O ports of a uart16550"] },
        { "uart-without-irq.json", ["uart-without-irq.json:20:5: $.devices[0]: missing required property 'irq'; expected an interrupt line 0-15 for a uart16550"] },
        { "unknown-device-key.json", ["unknown-device-key.json:25:7: $.devices[0].port: unknown property 'port'; expected one of: id, type, io, mmio, irq, placement, group, waitPolicy, spinBudget, whileDown, restart, accessTimeoutMs, snapshotEvery, crash, config, host, failover"] },
        { "unknown-device-type.json", ["unknown-device-type.json:28:7: $.devices[1].type: unknown device type 'isa-debug-exit'; expected one of: uart16550, debug-exit, testdev, bench-register, i8259, ioapic, i440fx, piix3-isa, piix3-ide, i8254, mc146818, debugcon, fw-cfg, i8042, acpi-pm"] },
        { "unknown-restart-key.json", ["unknown-restart-key.json:27:9: $.devices[0].restart.retries: unknown property 'retries'; expected one of: policy, maxRestarts, windowMs, backoffMs, giveUp"] },
        { "spares-out-of-range.json", ["spares-out-of-range.json:4:3: $.spares: spares 40 is out of range; expected 0-32 processes"] },
        { "spares-negative.json", ["spares-negative.json:4:3: $.spares: spares -1 is out of range; expected 0-32 processes"] },
        { "unknown-top-level-key.json", ["unknown-top-level-key.json:33:3: $.memorySize: unknown property 'memorySize'; expected one of: $schema, schemaVersion, name, extends, memory, load, cpu, firmware, kernel, initrd, cmdline, console, devices, sandbox, spares, hosts"] },
        { "wrong-schema-version.json", ["wrong-schema-version.json:2:3: $.schemaVersion: schema version 2 is not supported; expected 1 (the schema version this splitemu reads)"] },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void BadProfileProducesExactlyTheExpectedErrors(string file, string[] expected)
    {
        var loader = new ProfileLoader(ProfileTestPaths.SplitemuDirectory, ProfileTestPaths.BadCorpus);

        ProfileLoadResult result = loader.Load(file, []);

        Assert.Null(result.Profile);
        Assert.Equal(expected, result.Errors.Select(e => e.ToString()).ToArray());
    }

    [Fact]
    public void EveryFileInTheCorpusHasExpectedErrors()
    {
        // extends-cycle-b.json is the other half of extends-cycle-a.json's cycle.
        string[] helpers = ["extends-cycle-b.json"];
        var listed = Corpus.Cast<object[]>().Select(row => (string)row[0]).Concat(helpers).Order().ToArray();

        string[] onDisk = Directory.GetFiles(ProfileTestPaths.BadCorpus, "*.json").Select(f => Path.GetFileName(f)).Order().ToArray();

        Assert.Equal(onDisk, listed);
    }

    [Fact]
    public void CorpusHasAtLeastThirtyBadProfiles()
    {
        const int RequiredCases = 30;

        Assert.True(Corpus.Count() >= RequiredCases, $"the corpus has {Corpus.Count()} cases; expected at least {RequiredCases}");
    }
}
