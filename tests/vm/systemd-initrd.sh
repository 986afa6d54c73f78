#!/usr/bin/env bash
# tests/vm/systemd-initrd.sh: the systemd guest's initramfs: the cached Debian root (sysroot.sh) followed by an archive of this run: the project as `make install` put it, the client checks, the kernel's VFIO and nvme modules, and the bench's own unit.
#
# usage: systemd-initrd.sh SYSROOT_ENTRY KERNEL_ENTRY INSTALL_DIR VM_CHECKS OUT.cpio
#   INSTALL_DIR  a DESTDIR of `make install PREFIX=/usr` with merged-/usr directories (vm.mk makes it)
# The kernel unpacks concatenated archives in order, so the run's files land on the root as if
# installed there. Only usr/ and etc/ paths are added: /lib, /bin and /sbin are symlinks in the root and
# an archive entry of another type would replace them.
set -euo pipefail

[ $# -eq 5 ] || {
	echo "usage: $0 SYSROOT_ENTRY KERNEL_ENTRY INSTALL_DIR VM_CHECKS OUT.cpio" >&2
	exit 2
}
sysroot=$1 kentry=$2 install=$3 checks=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
die() {
	echo "systemd-initrd.sh: error: $*" >&2
	exit 1
}
for f in "$sysroot/base.cpio" "$kentry/moddir/modules.dep" "$kentry/release" "$install/usr/bin/vfio-user-proxy" \
	"$checks" "$(dirname "$checks")/vm-trust"; do
	[ -e "$f" ] || die "$f missing"
done
for d in "$install"/*; do
	case "$(basename "$d")" in
	usr | etc) ;;
	*) die "$d: the install must go under usr/ (merged /usr; give make install UDEVDIR=/usr/lib/udev ...)" ;;
	esac
done
release=$(cat "$kentry/release")
# Every shared library the installed proxy needs must be in the root (sysroot.sh's PACKAGES).
have=$(cpio --quiet -it <"$sysroot/base.cpio" | sed -n 's#.*/##p' | sort -u)
for lib in $(ldd "$install/usr/bin/vfio-user-proxy" | awk '$2 == "=>" { print $1 }'); do
	grep -qxF "$lib" <<<"$have" || die "the cached root has no $lib: add its package to PACKAGES in tests/vm/sysroot.sh"
done

stage=$(mktemp -d "${TMPDIR:-/tmp}/vup-sd-initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$install"/. "$stage/"
install -D -m 0755 "$checks" "$stage/usr/local/bin/vm-checks"
install -D -m 0755 "$(dirname "$checks")/vm-trust" "$stage/usr/local/bin/vm-trust"
install -D -m 0755 "$here/systemd-checks.sh" "$stage/usr/local/sbin/vup-bench"
install -D -m 0644 "$here/report.sh" "$stage/etc/vm/report.sh"
echo "$release" >"$stage/etc/vm/release"
mkdir -p "$stage/etc/systemd/system/multi-user.target.wants"
cat >"$stage/etc/systemd/system/vup-bench.service" <<'EOF'
[Unit]
Description=vfio-user-proxy guest bench
After=systemd-udev-trigger.service systemd-udevd.service systemd-sysusers.service systemd-tmpfiles-setup.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vup-bench
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
EOF
ln -s ../vup-bench.service "$stage/etc/systemd/system/multi-user.target.wants/vup-bench.service"

# The modules udev and libkmod load: VFIO, nvme (the host driver the nvme device starts on) and what
# they need, at their places under usr/lib/modules/RELEASE, with a modules.dep of their own.
moddir=$kentry/moddir
mods=$stage/usr/lib/modules/$release
mkdir -p "$mods"
want=()
for leaf in vfio_iommu_type1 vfio-pci nvme; do
	pattern=${leaf//[-_]/[-_]}
	line=$(grep -E "(^|/)${pattern}\.ko(\.[a-z]+)?:" "$moddir/modules.dep") || continue # built in
	want+=("${line%%:*}")
	read -r -a deps <<<"${line#*:}"
	want+=("${deps[@]}")
done
for rel in "${want[@]}"; do
	[ -e "$mods/$rel" ] || install -D -m 0644 "$moddir/$rel" "$mods/$rel"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	if [ -e "$moddir/$f" ]; then cp "$moddir/$f" "$mods/"; fi
done
depmod -b "$stage/usr" "$release"

mkdir -p "$(dirname "$out")"
cp "$sysroot/base.cpio" "$out.tmp"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >>"$out.tmp"
mv "$out.tmp" "$out"
