#!/usr/bin/env bash
# tests/vm/deps.sh: installs the Debian 12 host packages the guest test bench needs (QEMU, busybox, cpio, xz, kmod for depmod; the kernel build tools for the iommufd guest kernel), only those missing.
set -euo pipefail
exec "$(dirname "$0")/../../scripts/deps.sh" qemu-system-x86 busybox-static cpio xz-utils kmod \
	bc flex bison libelf-dev libssl-dev debootstrap
