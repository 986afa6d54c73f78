#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages the build and the host tests need (plus any named as arguments, or with --all
# what every test bench needs), only those missing.
set -euo pipefail
# --all: also what every test bench needs (tests/*/deps.sh), so `make check` runs on a fresh machine.
if [ "${1:-}" = "--all" ]; then
	shift
	"$0" "$@"
	for d in "$(dirname "$0")"/../tests/*/deps.sh; do
		[ -x "$d" ] && "$d"
	done
	exit 0
fi
pkgs=(build-essential pkg-config libjson-c-dev libcmocka-dev libseccomp-dev libkmod-dev libudev-dev libnl-genl-3-dev libsystemd-dev "$@")
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps.sh: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Benches may call this concurrently (make -j): wait for the dpkg lock rather than fail on it.
lock=(-o DPkg::Lock::Timeout=600)
for i in 1 2 3; do $SUDO apt-get "${lock[@]}" update -qq && break || sleep 5; done
$SUDO apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}"
