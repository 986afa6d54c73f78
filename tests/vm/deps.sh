#!/usr/bin/env bash
# tests/vm/deps.sh: installs the Debian 12 host packages the guest test bench needs (QEMU, busybox, cpio, xz), only those missing.
set -euo pipefail
pkgs=(qemu-system-x86 busybox-static cpio xz-utils)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "tests/vm/deps.sh: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
echo "tests/vm/deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
