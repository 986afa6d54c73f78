#!/usr/bin/env bash
# tests/vm/deps.sh: installs the Debian 12 host packages the guest test bench needs (QEMU, busybox, cpio, xz, kmod for depmod; the kernel build tools for the iommufd guest kernel; what the sid build root and the module builds use), only those missing.
set -euo pipefail
# bc flex bison libelf-dev libssl-dev: kernel-build.sh; debian-archive-keyring: the private apt of
# kernel.sh, kernel-build.sh and sid-build-root.sh; util-linux: unshare for module-build.sh's chroot;
# debootstrap: sysroot.sh. The module builds on the host use build-essential (scripts/deps.sh).
exec "$(dirname "$0")/../../scripts/deps.sh" qemu-system-x86 busybox-static cpio xz-utils kmod \
	bc flex bison libelf-dev libssl-dev debian-archive-keyring util-linux debootstrap
