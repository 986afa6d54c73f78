#!/usr/bin/env bash
# tests/vm/kernel-build.sh: builds the guest kernel with iommufd and the VFIO cdev (linux-source-6.12 from bookworm-backports) into the cache outside the clone, keyed by source version and config; prints the cache entry.
#
# usage: kernel-build.sh
# No Debian kernel enables CONFIG_IOMMUFD or CONFIG_VFIO_DEVICE_CDEV, so the bench builds one:
# x86_64_defconfig plus the options in CONFIG_OPTS below (VFIO built in; lockdep, kmemleak and the NVMe
# driver; modules without signing, and mtty as a module so that VFIO_MDEV, which has no prompt, is
# built), bzImage and modules (about 12 minutes on 2 cores). The source package is fetched with
# `apt-get download` under a private apt configuration
# (${VUP_CACHE:-/var/cache/vfio-user-proxy}/vm/apt/bookworm-backports); nothing is installed on the host.
# The entry ${VUP_CACHE}/vm/kernel-6.12-iommufd-<hash of source version, this config, the entry's layout
# and the compiler> holds the same files kernel.sh's entries do, so run.sh and initramfs.sh take either:
#   vmlinuz   the bzImage
#   moddir    the modules directory (make modules_install: mdev.ko, mtty.ko...; modules.builtin lists
#             what is built in) with its modules.dep; its build links to build/
#   build/    the prepared tree out-of-tree modules build against (make -C build M=DIR modules): what
#             the kernel's install-extmod-build puts in a linux-headers package (Makefile, .config,
#             Module.symvers, include/, arch/x86/include/ with the generated headers, scripts/ with
#             modpost and fixdep, tools/objtool/objtool), built by the same compiler; tests/vm/module-build.sh
#   release   the kernel release (uname -r)
#   package   the source package name and version
#   headers/  the tree's uAPI headers (make headers), e.g. headers/include/linux/iommufd.h
#   config    the final .config; build.log the build's output; build-seconds how long the build took
# A second run finds the entry and prints it at once; a new build removes the entries no run used for
# a week. Progress goes to stderr.
# Environment: VUP_CACHE, VUP_APT_REFRESH=1 (refresh the private package lists), KBUILD_JOBS (default nproc).
set -euo pipefail

CACHE=${VUP_CACHE:-/var/cache/vfio-user-proxy}
SUITE=bookworm-backports
SRC_PKG=linux-source-6.12
aptdir=$CACHE/vm/apt/$SUITE
# Enabled on top of x86_64_defconfig (-e), as a module (-m) or disabled to save build time (-d): DESIGN.md
# sections 4 and 5. mtty (the kernel's mdev sample) selects VFIO_MDEV, the bridge module's mdev core.
CONFIG_OPTS=(-e PCI -e VFIO -e VFIO_PCI -e VFIO_GROUP -e VFIO_CONTAINER -e IOMMUFD -e VFIO_DEVICE_CDEV
	-e VFIO_IOMMU_TYPE1 -e INTEL_IOMMU -e INTEL_IOMMU_DEFAULT_ON -e IRQ_REMAP -e EVENTFD
	-e MODULES -e MODULE_UNLOAD -d MODULE_SIG -e SAMPLES -m SAMPLE_VFIO_MDEV_MTTY
	-e BLK_DEV_NVME
	-e DEBUG_KERNEL -e PROVE_LOCKING -e DEBUG_ATOMIC_SLEEP -e DEBUG_FS -e DEBUG_KMEMLEAK -d DEBUG_KMEMLEAK_DEFAULT_OFF
	-d DRM -d SOUND -d USB_SUPPORT -d WLAN -d WIRELESS -d NETDEVICES)
# What the built .config must have as =y, as =y or =m, and unset, or the entry is refused.
REQUIRED=(PCI VFIO VFIO_PCI VFIO_GROUP VFIO_CONTAINER VFIO_IOMMU_TYPE1 IOMMUFD VFIO_DEVICE_CDEV INTEL_IOMMU IRQ_REMAP
	MODULES MODULE_UNLOAD BLK_DEV_NVME PROVE_LOCKING LOCKDEP PROVE_RCU DEBUG_ATOMIC_SLEEP DEBUG_FS DEBUG_KMEMLEAK)
REQUIRED_YM=(VFIO_MDEV SAMPLE_VFIO_MDEV_MTTY)
REQUIRED_OFF=(MODULE_SIG DEBUG_KMEMLEAK_DEFAULT_OFF)
# What an entry holds; a change here makes a new entry.
LAYOUT="bzImage, modules_install, install-extmod-build tree"

log() { echo "kernel-build.sh: $*" >&2; }
die() {
	echo "kernel-build.sh: error: $*" >&2
	exit 1
}

for tool in make gcc bc flex bison xz depmod; do
	command -v "$tool" >/dev/null || die "$tool missing (tests/vm/deps.sh installs the kernel build tools)"
done
[ -e /usr/include/libelf.h ] || die "libelf.h missing (package libelf-dev; tests/vm/deps.sh installs it)"
[ -e /usr/include/openssl/ssl.h ] || die "openssl headers missing (package libssl-dev; tests/vm/deps.sh installs it)"
mkdir -p "$CACHE/vm"
# shellcheck source=tests/vm/apt.sh
. "$(dirname "$0")/apt.sh"

# One build at a time (two benches started together share the cache).
exec 9>"$CACHE/vm/.lock-kernel-build"
flock 9

write_sources() {
	local uri
	uri=$(mirror_uri)
	[ -n "$uri" ] || die "no Debian mirror found in $HOST_SOURCES or /etc/apt/sources.list"
	echo "deb [signed-by=$KEYRING] $uri $SUITE main" >"$aptdir/sources.list"
}
apt_refresh write_sources

version=$({ apt-cache "${apt_opts[@]}" show --no-all-versions "$SRC_PKG" 2>/dev/null || true; } |
	awk '!v && $1 == "Version:" { v = $2 } END { print v }')
[ -n "$version" ] || die "no $SRC_PKG in $SUITE"

# The key: source version, the config recipe, what the entry holds and the compiler that builds it.
key=$(printf '%s\n' "$SRC_PKG $version" "${CONFIG_OPTS[*]}" "$LAYOUT" "$(gcc --version | head -n 1)" |
	sha256sum | cut -c1-12)
entry=$CACHE/vm/kernel-6.12-iommufd-$key
if [ -e "$entry/.complete" ]; then
	touch "$entry/.used"
	log "cached: $entry ($SRC_PKG $version)"
	echo "$entry"
	exit 0
fi

tmp=$(mktemp -d "$CACHE/vm/.kbuild.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "fetching $SRC_PKG ($version)"
mkdir "$tmp/debs" "$tmp/root"
(cd "$tmp/debs" && apt-get "${apt_opts[@]}" -qq download "$SRC_PKG" >&2) || die "apt-get download $SRC_PKG failed"
dpkg -x "$tmp"/debs/*.deb "$tmp/root"
tarball=$(find "$tmp/root/usr/src" -maxdepth 1 -name 'linux-source-*.tar.*' | head -n 1)
[ -n "$tarball" ] || die "no source tarball in $SRC_PKG"
log "unpacking $(basename "$tarball")"
mkdir "$tmp/src"
tar -xf "$tarball" -C "$tmp/src" --strip-components=1
rm -rf "$tmp/debs" "$tmp/root"

# The objects go to obj/ (O=): the source tree stays clean, as install-extmod-build wants it.
src=$tmp/src obj=$tmp/obj
jobs=${KBUILD_JOBS:-$(nproc)}
kmake() { make -C "$src" O="$obj" "$@"; }
failed() {
	cp "$tmp/build.log" "$CACHE/vm/kernel-build-failed.log"
	die "$1 failed; log in $CACHE/vm/kernel-build-failed.log: $(tail -n 3 "$tmp/build.log")"
}
t0=$(date +%s)
log "configuring (x86_64_defconfig + ${CONFIG_OPTS[*]})"
{
	kmake -s x86_64_defconfig
	"$src/scripts/config" --file "$obj/.config" "${CONFIG_OPTS[@]}"
	kmake -s olddefconfig
} >"$tmp/build.log" 2>&1 || die "configuring failed; see the log: $(tail -n 5 "$tmp/build.log")"
for opt in "${REQUIRED[@]}"; do
	grep -qx "CONFIG_$opt=y" "$obj/.config" || die "CONFIG_$opt is not =y after olddefconfig"
done
for opt in "${REQUIRED_YM[@]}"; do
	grep -qE "^CONFIG_$opt=[ym]\$" "$obj/.config" || die "CONFIG_$opt is neither =y nor =m after olddefconfig"
done
for opt in "${REQUIRED_OFF[@]}"; do
	! grep -qE "^CONFIG_$opt=" "$obj/.config" || die "CONFIG_$opt is set after olddefconfig"
done
# The uAPI headers first (seconds; no rsync needed, unlike headers_install): a late failure would waste the build.
kmake -s headers >>"$tmp/build.log" 2>&1 || failed "make headers"
mkdir -p "$tmp/headers"
cp -r "$obj/usr/include" "$tmp/headers/include"
log "building bzImage and modules with $jobs jobs under nice (about 12 minutes on 2 cores)"
nice -n 10 make -C "$src" O="$obj" -j"$jobs" bzImage modules >>"$tmp/build.log" 2>&1 || failed "make bzImage modules"
t1=$(date +%s)
release=$(kmake -s kernelrelease)

out=$tmp/out
mkdir -p "$out"
# modules_install runs depmod and links lib/modules/RELEASE/build to obj/: link it to build/ instead.
kmake -s INSTALL_MOD_PATH="$out/root" modules_install >>"$tmp/build.log" 2>&1 || failed "make modules_install"
mods=$out/root/lib/modules/$release
rm -f "$mods/build" "$mods/source"
ln -s ../../../../build "$mods/build"
# The tree for out-of-tree modules, as the kernel's own packaging (builddeb) makes linux-headers.
(cd "$obj" && srctree=$src SRCARCH=x86 CC=gcc HOSTCC=gcc MAKE=make \
	"$src/scripts/package/install-extmod-build" "$out/build") >>"$tmp/build.log" 2>&1 ||
	failed "install-extmod-build"
cp "$obj/.config" "$out/build/.config"
# A module built against it proves the tree complete before the entry is kept.
mkdir "$tmp/smoke"
printf '%s\n' '#include <linux/module.h>' 'static int __init smoke_init(void) { return 0; }' \
	'static void __exit smoke_exit(void) { }' 'module_init(smoke_init);' 'module_exit(smoke_exit);' \
	'MODULE_LICENSE("GPL");' 'MODULE_DESCRIPTION("smoke");' >"$tmp/smoke/smoke.c"
echo 'obj-m := smoke.o' >"$tmp/smoke/Kbuild"
if ! make -C "$out/build" M="$tmp/smoke" W=1 modules >>"$tmp/build.log" 2>&1 || [ ! -e "$tmp/smoke/smoke.ko" ]; then
	failed "a test module against the kept tree"
fi
cp "$obj/arch/x86/boot/bzImage" "$out/vmlinuz"
cp "$obj/.config" "$out/config"
mv "$tmp/headers" "$out/headers"
# initramfs.sh leaves out what is built in: it must find VFIO there.
for m in kernel/drivers/vfio/vfio_iommu_type1.ko kernel/drivers/vfio/pci/vfio-pci.ko; do
	grep -qx "$m" "$mods/modules.builtin" || die "$m is not in modules.builtin"
done
# The bridge module needs the mdev core: built in, or a module modules.dep knows.
grep -qx 'CONFIG_VFIO_MDEV=y' "$out/config" || grep -q '^kernel/drivers/vfio/mdev/mdev\.ko:' "$mods/modules.dep" ||
	die "no mdev.ko in $mods/modules.dep"
ln -s "root/lib/modules/$release" "$out/moddir"
echo "$release" >"$out/release"
echo "$SRC_PKG $version" >"$out/package"
echo iommufd >"$out/suite"
echo $((t1 - t0)) >"$out/build-seconds"
mv "$tmp/build.log" "$out/build.log"
chmod 0755 "$out"
touch "$out/.complete"
rm -rf "$entry"
mv "$out" "$entry"
rm -rf "$tmp"
trap - EXIT
# Older entries (another source version or config) go once no run has used them for a week: a clone
# at another commit may still want its own.
for old in "$CACHE"/vm/kernel-6.12-iommufd-*/; do
	old=${old%/}
	[ "$old" = "$entry" ] && continue
	[ -n "$(find "$old/.complete" "$old/.used" -maxdepth 0 -mtime -7 2>/dev/null)" ] && continue
	log "removing $(basename "$old"), unused for a week"
	rm -rf "$old"
done
log "built $release in $((t1 - t0)) s; cached in $entry"
echo "$entry"
