#!/usr/bin/env bash
# deps.sh: installs the Debian 12 packages the build and the host tests need (plus any named as arguments), only those missing.
set -euo pipefail
pkgs=(build-essential pkg-config libjson-c-dev libcmocka-dev libseccomp-dev "$@")
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
for i in 1 2 3; do $SUDO apt-get update -qq && break || sleep 5; done
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
