#!/usr/bin/env bash
# Puts `splitemu` on PATH: builds the launcher with the CPU and device hosts and the guests beside it, and
# links it as PREFIX/bin/splitemu (PREFIX defaults to ~/.local, whose bin/ most distributions put on PATH).
#
#   scripts/install-splitemu.sh [--prefix DIR] [--configuration Release|Debug] [--no-build]
#
# The link points into this checkout's build output, so a later `git pull` and re-run updates it in place.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
prefix="${HOME}/.local"
configuration=Release
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --configuration) configuration="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install-splitemu: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$build" -eq 1 ]; then
  dotnet build "$repo/launch/SplitEmu.Launch.csproj" -c "$configuration" -nologo -v quiet
fi

target="$repo/launch/bin/$configuration/net10.0/splitemu"
if [ ! -x "$target" ]; then
  echo "install-splitemu: $target is missing; build it first (drop --no-build)" >&2
  exit 1
fi

mkdir -p "$prefix/bin"
ln -sfn "$target" "$prefix/bin/splitemu"
echo "splitemu -> $target"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "$prefix/bin is not on your PATH; add it, e.g.: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
