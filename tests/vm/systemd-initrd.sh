#!/usr/bin/env bash
# tests/vm/systemd-initrd.sh: the systemd guests' initramfs: the cached Debian root (sysroot.sh) followed by an archive of this run: the project (as `make install` put it, or its Debian packages), the client checks, the kernel's VFIO, mdev and nvme modules, and the bench's own unit.
#
# usage: systemd-initrd.sh SYSROOT_ENTRY KERNEL_ENTRY (INSTALL_DIR | --debs DEB_DIR) VM_CHECKS OUT.cpio
#   INSTALL_DIR     a DESTDIR of `make install PREFIX=/usr` with merged-/usr directories (vm.mk makes it);
#                   the bench is systemd-checks.sh
#   --debs DEB_DIR  the .deb files of `make deb`, put in /var/cache/vup-debs for the bench, pkg-checks.sh,
#                   to install with apt-get (the root must be sysroot.sh --dev's)
# The kernel unpacks concatenated archives in order, so the run's files land on the root as if
# installed there. Only usr/ and etc/ paths are added: /lib, /bin and /sbin are symlinks in the root and
# an archive entry of another type would replace them.
set -euo pipefail

debs=
if [ "${3:-}" = --debs ]; then
	debs=${4:-}
	set -- "$1" "$2" "" "${@:5}"
fi
[ $# -eq 5 ] && { [ -n "$3" ] || [ -n "$debs" ]; } || {
	echo "usage: $0 SYSROOT_ENTRY KERNEL_ENTRY (INSTALL_DIR | --debs DEB_DIR) VM_CHECKS OUT.cpio" >&2
	exit 2
}
sysroot=$1 kentry=$2 install=$3 checks=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
die() {
	echo "systemd-initrd.sh: error: $*" >&2
	exit 1
}
for f in "$sysroot/base.cpio" "$kentry/moddir/modules.dep" "$kentry/release" "$checks" "$(dirname "$checks")/vm-trust"; do
	[ -e "$f" ] || die "$f missing"
done
release=$(cat "$kentry/release")
if [ -n "$debs" ]; then
	ls "$debs"/vfio-user-proxy_*.deb >/dev/null 2>&1 || die "$debs has no vfio-user-proxy_*.deb (make deb)"
else
	[ -e "$install/usr/bin/vfio-user-proxy" ] || die "$install/usr/bin/vfio-user-proxy missing"
	for d in "$install"/*; do
		case "$(basename "$d")" in
		usr | etc) ;;
		*) die "$d: the install must go under usr/ (merged /usr; give make install UDEVDIR=/usr/lib/udev ...)" ;;
		esac
	done
	# Every shared library the installed proxy needs must be in the root (sysroot.sh's PACKAGES).
	have=$(cpio --quiet -it <"$sysroot/base.cpio" | sed -n 's#.*/##p' | sort -u)
	for lib in $(ldd "$install/usr/bin/vfio-user-proxy" | awk '$2 == "=>" { print $1 }'); do
		grep -qxF "$lib" <<<"$have" || die "the cached root has no $lib: add its package to PACKAGES in tests/vm/sysroot.sh"
	done
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/vup-sd-initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT
if [ -n "$debs" ]; then
	mkdir -p "$stage/var/cache/vup-debs"
	cp "$debs"/*.deb "$stage/var/cache/vup-debs/"
	install -D -m 0755 "$here/pkg-checks.sh" "$stage/usr/local/sbin/vup-bench"
	install -D -m 0644 "$here/../pkg/client_smoke.c" "$stage/usr/local/share/vup/client_smoke.c"
else
	cp -a "$install"/. "$stage/"
	install -D -m 0755 "$here/systemd-checks.sh" "$stage/usr/local/sbin/vup-bench"
fi
install -D -m 0755 "$checks" "$stage/usr/local/bin/vm-checks"
install -D -m 0755 "$(dirname "$checks")/vm-trust" "$stage/usr/local/bin/vm-trust"
install -D -m 0644 "$here/report.sh" "$stage/etc/vm/report.sh"
install -D -m 0644 "$here/sd_lib.sh" "$stage/etc/vm/sd_lib.sh"
cp "$here/../../VERSION" "$stage/etc/vm/version"
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

# The modules udev and libkmod load: VFIO, mdev (the bridge's), nvme (the host driver the nvme device
# starts on) and what they need, at their places under usr/lib/modules/RELEASE, with a modules.dep of their own.
moddir=$kentry/moddir
mods=$stage/usr/lib/modules/$release
mkdir -p "$mods"
want=()
for leaf in vfio_iommu_type1 vfio-pci mdev nvme; do
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
