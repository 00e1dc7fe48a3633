#!/usr/bin/env bash
# Fetches the Linux guest the tests and profiles/linux.json boot: Debian bookworm's own i386 686 kernel
# (linux-image-686, its modules included) and busybox-static, with apt-get download, extracted with
# dpkg-deb -x. Nothing fetched is ever committed: it lands in a cache folder that every test run shares
# and is re-used when present.
#
#   scripts/fetch-linux-guest.sh [CACHE]     prints the folder holding kernel/, modules/, busybox and
#                                            initrd.cpio (busybox as /init's shell, built here with cpio)
#
# It also points .guests/linux in this checkout at that folder, which is what profiles/linux.json boots.
#
# CACHE defaults to $SPLITEMU_GUEST_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/splitemu/linux-guest.
# Needs apt with network access; enables the i386 architecture for apt when it is not (as root or with sudo).
set -euo pipefail

cache="${1:-${SPLITEMU_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/splitemu/linux-guest}}"
repository="$(cd "$(dirname "$0")/.." && pwd)"

link_into_checkout() {
  mkdir -p "$repository/.guests" && ln -sfn "$cache" "$repository/.guests/linux"
}

if [ -f "$cache/ready" ]; then
  link_into_checkout
  echo "$cache"
  exit 0
fi

as_root=""
if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi

if ! dpkg --print-foreign-architectures | grep -qx i386; then
  echo "fetch-linux-guest: enabling the i386 architecture for apt" >&2
  $as_root dpkg --add-architecture i386
  $as_root apt-get update -qq
fi

# linux-image-686 is a metapackage: the kernel itself is the versioned package it depends on.
kernel_package=$(apt-cache depends linux-image-686:i386 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { sub(/:i386$/, "", $2); print $2; exit }')
if [ -z "$kernel_package" ]; then
  echo "fetch-linux-guest: apt knows no linux-image-686:i386 (is the i386 architecture's package list fetched? try 'apt-get update')" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/splitemu-fetch-XXXXXX")
trap 'rm -rf "$work"' EXIT
# As root, apt would hand the download to its _apt user, which cannot write into our private folder.
sandbox=()
if [ "$(id -u)" -eq 0 ]; then sandbox=(-o APT::Sandbox::User=root); fi
(cd "$work" && apt-get download -qq "${sandbox[@]}" "$kernel_package:i386" "busybox-static:i386")

root="$work/root"
mkdir -p "$root"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$root"
done

staging="$cache.partial.$$"
rm -rf "$staging"
mkdir -p "$staging/kernel"
cp "$root"/boot/vmlinuz-* "$staging/kernel/bzImage"
cp "$root"/boot/config-* "$staging/kernel/config"
mv "$root/lib/modules" "$staging/modules"
cp "$root/bin/busybox" "$staging/busybox"
echo "$kernel_package $(dpkg-deb -f "$work/${kernel_package}"_*.deb Version)" > "$staging/VERSION"

# The initrd: busybox and an /init that mounts the kernel's file systems and starts a shell on the console.
initramfs="$work/initramfs"
mkdir -p "$initramfs"/{bin,dev,proc,sys,tmp}
cp "$staging/busybox" "$initramfs/bin/busybox"
cat > "$initramfs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "SplitEmu: Linux $(uname -r) is up; busybox shell on the console"
exec setsid cttyhack sh
INIT
chmod 755 "$initramfs/init"
(cd "$initramfs" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$staging/initrd.cpio"
touch "$staging/ready"

# Publish in one rename, so a concurrent or interrupted fetch never leaves a half-filled cache behind.
mkdir -p "$(dirname "$cache")"
if ! mv -T "$staging" "$cache" 2>/dev/null; then
  rm -rf "$staging" # another fetch published first
fi
link_into_checkout
echo "$cache"
