#!/usr/bin/env bash
# tests/vm/kernel-build.sh: builds the guest kernel with iommufd and the VFIO cdev (linux-source-6.12 from bookworm-backports) into the cache outside the clone, keyed by source version and config; prints the cache entry.
#
# usage: kernel-build.sh
# No Debian kernel enables CONFIG_IOMMUFD or CONFIG_VFIO_DEVICE_CDEV, so the bench builds one:
# x86_64_defconfig plus the options in CONFIG_OPTS below, all built in, bzImage only (about 10 minutes
# on 2 cores). The source package is fetched with `apt-get download` under a private apt configuration
# (${VUP_CACHE:-/var/cache/vfio-user-proxy}/vm/apt/bookworm-backports); nothing is installed on the host.
# The entry ${VUP_CACHE}/vm/kernel-6.12-iommufd-<hash of source version, this config and the compiler>
# holds the same files kernel.sh's entries do, so run.sh and initramfs.sh take either:
#   vmlinuz   the bzImage
#   moddir    an empty modules directory (everything needed is built in) with its modules.dep
#   release   the kernel release (uname -r)
#   package   the source package name and version
#   headers/  the tree's uAPI headers (make headers), e.g. headers/include/linux/iommufd.h
#   config    the final .config; build.log the build's output; build-seconds how long the build took
# A second run finds the entry and prints it at once. Progress goes to stderr.
# Environment: VUP_CACHE, VUP_APT_REFRESH=1 (refresh the private package lists), KBUILD_JOBS (default nproc).
set -euo pipefail

CACHE=${VUP_CACHE:-/var/cache/vfio-user-proxy}
SUITE=bookworm-backports
SRC_PKG=linux-source-6.12
aptdir=$CACHE/vm/apt/$SUITE
# Enabled on top of x86_64_defconfig (-e) or disabled to save build time (-d): DESIGN.md section 4.
CONFIG_OPTS=(-e PCI -e VFIO -e VFIO_PCI -e VFIO_GROUP -e VFIO_CONTAINER -e IOMMUFD -e VFIO_DEVICE_CDEV
	-e VFIO_IOMMU_TYPE1 -e INTEL_IOMMU -e INTEL_IOMMU_DEFAULT_ON -e IRQ_REMAP -e EVENTFD -e VFIO_MDEV
	-d DRM -d SOUND -d USB_SUPPORT -d WLAN -d WIRELESS -d NETDEVICES -d MODULE_SIG)
# What the built .config must have as =y, or the entry is refused.
REQUIRED=(PCI VFIO VFIO_PCI VFIO_GROUP VFIO_CONTAINER VFIO_IOMMU_TYPE1 IOMMUFD VFIO_DEVICE_CDEV INTEL_IOMMU IRQ_REMAP)

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

# The key: source version, the config recipe and the compiler that builds it.
key=$(printf '%s\n' "$SRC_PKG $version" "${CONFIG_OPTS[*]}" "$(gcc --version | head -n 1)" |
	sha256sum | cut -c1-12)
entry=$CACHE/vm/kernel-6.12-iommufd-$key
if [ -e "$entry/.complete" ]; then
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

src=$tmp/src
jobs=${KBUILD_JOBS:-$(nproc)}
t0=$(date +%s)
log "configuring (x86_64_defconfig + ${CONFIG_OPTS[*]})"
{
	make -C "$src" -s x86_64_defconfig
	"$src/scripts/config" --file "$src/.config" "${CONFIG_OPTS[@]}"
	make -C "$src" -s olddefconfig
} >"$tmp/build.log" 2>&1 || die "configuring failed; see the log: $(tail -n 5 "$tmp/build.log")"
for opt in "${REQUIRED[@]}"; do
	grep -qx "CONFIG_$opt=y" "$src/.config" || die "CONFIG_$opt is not =y after olddefconfig"
done
# The uAPI headers first (seconds; no rsync needed, unlike headers_install): a late failure would waste the build.
if ! make -C "$src" -s headers >>"$tmp/build.log" 2>&1; then
	cp "$tmp/build.log" "$CACHE/vm/kernel-build-failed.log"
	die "make headers failed; log in $CACHE/vm/kernel-build-failed.log: $(tail -n 3 "$tmp/build.log")"
fi
mkdir -p "$tmp/headers"
cp -r "$src/usr/include" "$tmp/headers/include"
log "building bzImage with $jobs jobs under nice (about 10 minutes on 2 cores)"
if ! nice -n 10 make -C "$src" -j"$jobs" bzImage >>"$tmp/build.log" 2>&1; then
	cp "$tmp/build.log" "$CACHE/vm/kernel-build-failed.log"
	die "make bzImage failed; log in $CACHE/vm/kernel-build-failed.log: $(tail -n 3 "$tmp/build.log")"
fi
t1=$(date +%s)
release=$(make -C "$src" -s kernelrelease)

out=$tmp/out
mkdir -p "$out/root/lib/modules/$release"
cp "$src/arch/x86/boot/bzImage" "$out/vmlinuz"
cp "$src/.config" "$out/config"
mv "$tmp/headers" "$out/headers"
for f in modules.order modules.builtin modules.builtin.modinfo; do
	if [ -e "$src/$f" ]; then cp "$src/$f" "$out/root/lib/modules/$release/$f"; else : >"$out/root/lib/modules/$release/$f"; fi
done
# initramfs.sh leaves out what is built in: it must find VFIO there.
for m in kernel/drivers/vfio/vfio_iommu_type1.ko kernel/drivers/vfio/pci/vfio-pci.ko; do
	grep -qx "$m" "$out/root/lib/modules/$release/modules.builtin" || echo "$m" >>"$out/root/lib/modules/$release/modules.builtin"
done
depmod -b "$out/root" "$release" || die "depmod failed"
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
log "built $release in $((t1 - t0)) s; cached in $entry"
echo "$entry"
