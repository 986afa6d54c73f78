#!/usr/bin/env bash
# tests/vm/initramfs.sh: builds the guest's initramfs: busybox, the proxy and vm-checks with their shared libraries, the kernel's VFIO modules (ordered by modules.dep) and the guest /init.
#
# usage: initramfs.sh KERNEL_ENTRY OUT.cpio PROXY VM_CHECKS
#   KERNEL_ENTRY  a directory printed by kernel.sh or kernel-build.sh (moddir, release); a module the
#                 kernel has built in (listed in modules.builtin) is left out
# BRIDGE_KO=PATH (environment) adds the bridge module built for this kernel, and the mdev module it needs.
# The archive is an uncompressed newc cpio (the kernel unpacks it faster than it would decompress it
# under TCG); entries are sorted, owned by root and dated 0, so equal inputs give an equal archive.
set -euo pipefail

[ $# -eq 4 ] || {
	echo "usage: $0 KERNEL_ENTRY OUT.cpio PROXY VM_CHECKS" >&2
	exit 2
}
entry=$1 out=$2 proxy=$3 checks=$4
here=$(cd "$(dirname "$0")" && pwd)
BUSYBOX=${BUSYBOX:-/bin/busybox}
# The leaves we need; modules.dep brings in what they depend on (vfio, irqbypass, vfio_virqfd, vfio-pci-core).
MODULES=(vfio_iommu_type1 vfio-pci)
# Wanted where the kernel has them: nvme, the nvme device's host driver, which unbind gives it back to
# (the 6.12 built for iommufd has no NVMe driver at all).
OPTIONAL_MODULES=(nvme)

die() {
	echo "initramfs.sh: error: $*" >&2
	exit 1
}
for f in "$entry/moddir/modules.dep" "$entry/release" "$proxy" "$checks" "$here/init" "$BUSYBOX"; do
	[ -e "$f" ] || die "$f missing"
done
"$BUSYBOX" --list | grep -x insmod >/dev/null || die "$BUSYBOX has no insmod (install busybox-static)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/vup-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc/vm,lib/modules,proc,sys,dev,tmp,run}

# busybox and its applets as symlinks
cp "$BUSYBOX" "$stage/bin/busybox"
for applet in $("$BUSYBOX" --list-full); do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done

# A binary and the shared objects ldd lists for it (the dynamic loader included), at the same paths.
add_binary() {
	local src=$1 dst=$2 lib
	install -D -m 0755 "$src" "$stage/$dst"
	# ldd exits non-zero for a static binary: nothing to add then.
	ldd "$src" >/dev/null 2>&1 || return 0
	for lib in $(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		[ -e "$stage/$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$stage/$lib"
	done
}
add_binary "$proxy" usr/bin/vfio-user-proxy
add_binary "$checks" usr/bin/vm-checks
add_binary "$(dirname "$checks")/vm-trust" usr/bin/vm-trust
add_binary "$(dirname "$checks")/vm-bridge" usr/bin/vm-bridge

# Modules in load order: for each leaf, its modules.dep dependencies from last to first, then the leaf.
moddir=$entry/moddir
load=()
add_module() {
	local rel=$1 m
	for m in "${load[@]}"; do [ "$m" = "$rel" ] && return 0; done
	load+=("$rel")
}
for name in "${MODULES[@]}" "${OPTIONAL_MODULES[@]}"; do
	pattern=${name//[-_]/[-_]}
	if ! line=$(grep -E "(^|/)${pattern}\.ko(\.[a-z]+)?:" "$moddir/modules.dep"); then
		grep -qE "(^|/)${pattern}\.ko\$" "$moddir/modules.builtin" 2>/dev/null ||
			[[ " ${OPTIONAL_MODULES[*]} " == *" $name "* ]] ||
			die "$name neither in $moddir/modules.dep nor built in"
		continue
	fi
	read -r -a deps <<<"${line#*:}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_module "${deps[i]}"; done
	add_module "${line%%:*}"
done
: >"$stage/etc/vm/modules"
for rel in "${load[@]}"; do
	base=$(basename "$rel")
	base=${base%%.ko*}
	case "$rel" in
	*.ko) cp "$moddir/$rel" "$stage/lib/modules/$base.ko" ;;
	*.ko.xz) xz -dc "$moddir/$rel" >"$stage/lib/modules/$base.ko" ;;
	*.ko.gz) gzip -dc "$moddir/$rel" >"$stage/lib/modules/$base.ko" ;;
	*.ko.zst) zstd -qdc "$moddir/$rel" >"$stage/lib/modules/$base.ko" ;;
	*) die "unknown module format: $rel" ;;
	esac
	echo "$base" >>"$stage/etc/vm/modules"
done
# The bridge module (BRIDGE_KO: built by run.sh for this kernel) and, in load order before it, the mdev
# core it needs where the kernel has that as a module (the vfio modules above are loaded already).
: >"$stage/etc/vm/bridge-modules"
if [ -n "${BRIDGE_KO:-}" ] && [ -f "$BRIDGE_KO" ]; then
	load=()
	if line=$(grep -E "(^|/)mdev\.ko(\.[a-z]+)?:" "$moddir/modules.dep"); then
		read -r -a deps <<<"${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_module "${deps[i]}"; done
		add_module "${line%%:*}"
	fi
	for rel in "${load[@]}"; do
		base=$(basename "$rel")
		base=${base%%.ko*}
		grep -qx "$base" "$stage/etc/vm/modules" && continue
		[ -e "$stage/lib/modules/$base.ko" ] || case "$rel" in
		*.ko) cp "$moddir/$rel" "$stage/lib/modules/$base.ko" ;;
		*.ko.xz) xz -dc "$moddir/$rel" >"$stage/lib/modules/$base.ko" ;;
		*.ko.gz) gzip -dc "$moddir/$rel" >"$stage/lib/modules/$base.ko" ;;
		*.ko.zst) zstd -qdc "$moddir/$rel" >"$stage/lib/modules/$base.ko" ;;
		*) die "unknown module format: $rel" ;;
		esac
		echo "$base" >>"$stage/etc/vm/bridge-modules"
	done
	cp "$BRIDGE_KO" "$stage/lib/modules/vup_bridge.ko"
	echo vup_bridge >>"$stage/etc/vm/bridge-modules"
fi
cp "$entry/release" "$stage/etc/vm/release"
install -m 0755 "$here/init" "$stage/init"
install -m 0644 "$here/report.sh" "$here/watch_checks.sh" "$here/bridge_checks.sh" "$here/bridge_ctl_checks.sh" \
	"$stage/etc/vm/"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 -exec touch -h -d @0 {} + &&
	find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
