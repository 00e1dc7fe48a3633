#!/usr/bin/env bash
# Fetches the Linux guest the tests and profiles/linux.json boot: Debian bookworm's own i386 686 kernel
# (linux-image-686, its modules included) and busybox-static, with apt-get download, extracted with
# dpkg-deb -x. Nothing fetched is ever committed: it lands in a cache folder that every test run shares
# and is re-used when present.
#
#   scripts/fetch-linux-guest.sh [CACHE]     prints the folder holding kernel/, modules/, busybox,
#                                            initrd.cpio (busybox as /init's shell and the storage
#                                            modules, built here with cpio) and disk.ext4 (a small ext4
#                                            disk for profiles/linux.json's IDE drive, made with mke2fs -d)
#
# profiles/linux.json names that folder ${linux-guest}/ (the same rule: launch/Profiles/ProfilePaths.cs).
#
# CACHE defaults to $SPLITEMU_GUEST_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/splitemu/linux-guest.
# Needs apt with network access; enables the i386 architecture for apt when it is not (as root or with sudo).
set -euo pipefail

cache="${1:-${SPLITEMU_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/splitemu/linux-guest}}"

# What the initrd and the disk are made of. Bump when build_initrd or build_disk changes what they hold:
# a cache built by an older recipe is rebuilt from the files already fetched (no download).
recipe=2

# The modules the kernel needs to reach an ext4 file system on the PIIX3's IDE disk, in load order (each
# after what it depends on; the generic CRC drivers first, so nothing asks for /sbin/modprobe).
storage_modules=(
  scsi_common scsi_mod libata ata_piix
  crc64 crc64_rocksoft_generic crc64-rocksoft crct10dif_common crct10dif_generic crc-t10dif t10-pi sd_mod
  crc16 mbcache jbd2 crc32c_generic ext4
)

# The initrd: busybox, the storage modules, and an /init that mounts the kernel's file systems, loads the
# modules and starts a shell on the console.
build_initrd() {
  local into="$1" initramfs="$2"
  local release
  release=$(ls "$cache/modules")
  mkdir -p "$initramfs"/{bin,dev,proc,sys,tmp,mnt} "$initramfs/lib/modules/$release"
  cp "$cache/busybox" "$initramfs/bin/busybox"
  local name found
  for name in "${storage_modules[@]}"; do
    found=$(find "$cache/modules/$release/kernel" -name "$name.ko" | head -n 1)
    if [ -z "$found" ]; then
      echo "fetch-linux-guest: the kernel package has no module $name.ko" >&2
      return 1
    fi
    cp "$found" "$initramfs/lib/modules/$release/"
  done
  cat > "$initramfs/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in ${storage_modules[*]}; do
  insmod /lib/modules/\$(uname -r)/\$module.ko || echo "SplitEmu: could not load \$module"
done
echo "SplitEmu: Linux \$(uname -r) is up; busybox shell on the console"
exec setsid cttyhack sh
INIT
  chmod 755 "$initramfs/init"
  (cd "$initramfs" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$into"
}

# The shipped profile's disk: a small ext4 file system with a note on it, to mount from the shell.
build_disk() {
  local into="$1" content="$2"
  mkdir -p "$content"
  printf 'This file lives on an ext4 file system on the PIIX3 IDE disk, served by its own device process.\n' > "$content/README"
  mke2fs -q -F -t ext4 -L splitemu -d "$content" "$into" 16M >/dev/null
}

# Rebuilds the initrd and the disk when the cache's were made by another recipe; each file is published
# with one rename, so a test booting the old one never sees half a file.
refresh_built_files() {
  if [ "$(cat "$cache/recipe" 2>/dev/null)" = "$recipe" ]; then
    return 0
  fi
  if ! command -v mke2fs >/dev/null; then
    echo "fetch-linux-guest: mke2fs (e2fsprogs) is needed to make the guest's disk" >&2
    return 1
  fi
  local scratch
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/splitemu-initrd-XXXXXX")
  build_initrd "$scratch/initrd.cpio" "$scratch/initramfs"
  build_disk "$scratch/disk.ext4" "$scratch/disk"
  mv -f "$scratch/initrd.cpio" "$cache/initrd.cpio.new.$$" && mv -f "$cache/initrd.cpio.new.$$" "$cache/initrd.cpio"
  mv -f "$scratch/disk.ext4" "$cache/disk.ext4.new.$$" && mv -f "$cache/disk.ext4.new.$$" "$cache/disk.ext4"
  echo "$recipe" > "$cache/recipe.new.$$" && mv -f "$cache/recipe.new.$$" "$cache/recipe"
  rm -rf "$scratch"
}

if [ -f "$cache/ready" ]; then
  refresh_built_files
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
cp "$root"/boot/System.map-* "$staging/kernel/System.map" # symbols, for reading where a guest spends its time
mv "$root/lib/modules" "$staging/modules"
cp "$root/bin/busybox" "$staging/busybox"
echo "$kernel_package $(dpkg-deb -f "$work/${kernel_package}"_*.deb Version)" > "$staging/VERSION"

touch "$staging/ready"

# Publish in one rename, so a concurrent or interrupted fetch never leaves a half-filled cache behind.
mkdir -p "$(dirname "$cache")"
if ! mv -T "$staging" "$cache" 2>/dev/null; then
  rm -rf "$staging" # another fetch published first
fi
refresh_built_files
echo "$cache"
