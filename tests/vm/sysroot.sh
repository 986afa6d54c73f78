#!/usr/bin/env bash
# tests/vm/sysroot.sh: a Debian 12 root that boots systemd and systemd-udevd as Debian ships them, made once with debootstrap and cached as an initramfs archive; prints the cache entry.
#
# usage: sysroot.sh [--dev RELEASE]
#   --dev RELEASE  also what installing the project's Debian packages needs in the guest (DKMS, the C
#                  toolchain, the headers of the kernel RELEASE boots, pkg-config and libjson-c-dev for
#                  the client library): the pkg suite's root, cached apart (sysroot-bookworm-dev-RELEASE-*)
# The entry (in ${VUP_CACHE:-/var/cache/vfio-user-proxy}/vm/sysroot-bookworm-<recipe hash>) holds
#   base.cpio   the whole root as a newc archive: the guest boots it as its initramfs (no disk, no
#               modules needed before systemd); a per-run archive appended to it adds the project
#   packages    the Debian packages in it, with versions
# The root is minbase plus systemd, udev, kmod and the proxy's shared libraries (the packages of what
# `ldd vfio-user-proxy` lists: keep PACKAGES in step with the Makefile's PKGS), trimmed (no docs,
# locales, apt state) and set to boot straight to multi-user.target without timers, gettys or first-boot
# questions. The mirror is the host's own (tests/vm/apt.sh); nothing is installed on the host.
# A new recipe (this file changes) makes a new entry; older ones are removed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${VUP_CACHE:-/var/cache/vfio-user-proxy}
PACKAGES=systemd,systemd-sysv,udev,kmod,procps,libjson-c5,libseccomp2,libkmod2,libudev1,libsystemd0,libnl-3-200,libnl-genl-3-200
dev=
case "${1:-}" in
"") ;;
--dev)
	dev=${2:?usage: sysroot.sh [--dev RELEASE]}
	DEV_PACKAGES="dkms gcc make libc6-dev patch pkg-config libjson-c-dev linux-headers-$dev"
	;;
*)
	echo "usage: $0 [--dev RELEASE]" >&2
	exit 2
	;;
esac

log() { echo "sysroot.sh: $*" >&2; }
die() {
	echo "sysroot.sh: error: $*" >&2
	exit 1
}
command -v debootstrap >/dev/null || die "debootstrap missing (tests/vm/deps.sh installs it)"
aptdir=$CACHE/vm/apt/sysroot
# shellcheck source=tests/vm/apt.sh
. "$here/apt.sh"

recipe=$(sha256sum <"$0" | cut -c1-12)
variant=sysroot-bookworm-${dev:+dev-$dev-}
entry=$CACHE/vm/$variant$recipe
mkdir -p "$CACHE/vm"
exec 9>"$CACHE/vm/.lock-sysroot${dev:+-dev}"
flock 9
if [ -e "$entry/.complete" ]; then
	echo "$entry"
	exit 0
fi

uri=$(mirror_uri)
[ -n "$uri" ] || die "no Debian mirror found in $HOST_SOURCES or /etc/apt/sources.list"
tmp=$(mktemp -d "$CACHE/vm/.sysroot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
log "debootstrap bookworm (minbase + ${PACKAGES//,/ }) from the host's mirror"
t0=$(date +%s)
debootstrap --variant=minbase --keyring="$KEYRING" --include="$PACKAGES" bookworm "$root" "$uri" \
	>"$tmp/debootstrap.log" 2>&1 || {
	tail -n 20 "$tmp/debootstrap.log" >&2
	die "debootstrap failed"
}
if [ -n "$dev" ]; then
	# The kernel's headers come from Debian 12's updates and security suites as well as from the
	# release debootstrap reads: the private apt (apt.sh) with the host's sources resolves what the root
	# lacks, downloads it, and dpkg installs it inside the root (no network, no services started there).
	write_sources() {
		if [ -r "$HOST_SOURCES" ]; then
			cp "$HOST_SOURCES" "$aptdir/sources.list.d/debian.sources"
			: >"$aptdir/sources.list"
		else
			cp /etc/apt/sources.list "$aptdir/sources.list"
		fi
	}
	apt_refresh write_sources
	log "adding $DEV_PACKAGES"
	rm -f "$aptdir"/cache/archives/*.deb
	apt-get "${apt_opts[@]}" -o "Dir::State::status=$root/var/lib/dpkg/status" -qq -y \
		--no-install-recommends --download-only install $DEV_PACKAGES >"$tmp/apt.log" 2>&1 || {
		tail -n 20 "$tmp/apt.log" >&2
		die "apt-get could not resolve $DEV_PACKAGES for the root"
	}
	mkdir -p "$root/tmp/debs"
	cp "$aptdir"/cache/archives/*.deb "$root/tmp/debs/"
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	mount -t proc proc "$root/proc"
	rc=0
	# A second pass for what a pre-dependency held back (dpkg -i does not order by them).
	chroot "$root" sh -c 'dpkg -i /tmp/debs/*.deb || dpkg --skip-same-version -i /tmp/debs/*.deb' \
		>>"$tmp/apt.log" 2>&1 || rc=$?
	umount "$root/proc"
	[ "$rc" -eq 0 ] || {
		grep -B3 -A3 -i 'error' "$tmp/apt.log" | head -n 60 >&2
		die "dpkg -i of $DEV_PACKAGES in the root failed"
	}
	rm -rf "$root/tmp/debs" "$root/usr/sbin/policy-rc.d"
	chroot "$root" test -e "/lib/modules/$dev/build/Makefile" || die "the root has no kernel build directory for $dev"
fi
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$tmp/packages"

# Trim what a test boot never reads.
rm -rf "$root"/usr/share/{doc,man,info,locale,lintian,bash-completion} "$root"/var/cache/apt/* \
	"$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/usr/lib/udev/hwdb.bin "$root"/usr/lib/udev/hwdb.d
mkdir -p "$root/usr/share/locale"

# Boot fast and quietly: a fixed machine id (no first boot), no timers, no gettys, no pstore, no fsck.
echo vup-sysroot >"$root/etc/hostname"
echo 5f0c3e1e2b7d4a6f9c8e1d2a3b4c5d6e >"$root/etc/machine-id"
: >"$root/etc/fstab"
rm -f "$root"/etc/systemd/system/timers.target.wants/* "$root"/etc/systemd/system/getty.target.wants/* \
	"$root"/etc/systemd/system/sysinit.target.wants/systemd-pstore.service \
	"$root"/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service
for unit in getty.target console-getty.service serial-getty@ttyS0.service systemd-firstboot.service \
	systemd-journal-flush.service systemd-random-seed.service systemd-update-utmp.service \
	systemd-update-utmp-runlevel.service sys-kernel-debug.mount sys-kernel-tracing.mount \
	sys-fs-fuse-connections.mount systemd-hwdb-update.service ldconfig.service; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
ln -sf /usr/lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
# journald keeps its log in memory and forwards nothing to the console (the bench's lines own it)
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' >"$root/etc/systemd/journald.conf.d/vup.conf"
# The kernel runs /init from the initramfs: systemd itself.
ln -s /usr/lib/systemd/systemd "$root/init"

log "packing the root ($(du -sh "$root" | cut -f1)) into base.cpio"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc) >"$tmp/base.cpio"
rm -rf "$root"
echo "$(($(date +%s) - t0))" >"$tmp/build-seconds"
touch "$tmp/.complete"
chmod 0755 "$tmp"
for old in "$CACHE"/vm/$variant*/; do
	old=${old%/}
	case "$(basename "$old")" in sysroot-bookworm-dev-*) [ -n "$dev" ] || continue ;; esac
	if [ -d "$old" ] && [ "$old" != "$entry" ]; then
		log "removing superseded $(basename "$old")"
		rm -rf "$old"
	fi
done
mv "$tmp" "$entry"
trap - EXIT
log "cached in $entry"
echo "$entry"
