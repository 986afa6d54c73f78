#!/usr/bin/env bash
# tests/interop/qemu-root.sh: provides a private QEMU >= 10.1 from Debian sid (private apt configuration + dpkg -x, cached; the host's packages are untouched) and prints its run wrapper.
#
# Usage: tests/interop/qemu-root.sh            prints the path of ROOT/qemu-system-x86_64, a wrapper that
#                                              runs sid's QEMU with sid's loader, libraries and firmware.
# The root lives in ${VUP_CACHE:-/var/cache/vfio-user-proxy}/qemu-sid-<version>; a second run reuses the
# newest complete one without touching the network (VUP_QEMU_REFRESH=1 looks for a newer sid QEMU).
# The mirror is the one the host's apt uses (apt-private.sh reads it from the host's sources at run
# time), with suite sid; VUP_DEBIAN_MIRROR overrides it.
set -euo pipefail
. "$(dirname "$0")/apt-private.sh"

CACHE=${VUP_CACHE:-/var/cache/vfio-user-proxy}
MIN_MAJOR=10
MIN_MINOR=1
msg() { echo "qemu-root: $*" >&2; }

# Version string of a root's QEMU ("11.1.3"), or nothing if it does not run.
root_version() {
	"$1/qemu-system-x86_64" --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p'
}

version_ok() {
	local major minor
	IFS=. read -r major minor _ <<<"$1"
	[ -n "$major" ] && { [ "$major" -gt "$MIN_MAJOR" ] || { [ "$major" -eq "$MIN_MAJOR" ] && [ "${minor:-0}" -ge "$MIN_MINOR" ]; }; }
}

newest_cached() {
	local d
	for d in "$CACHE"/qemu-sid-*/; do
		if [ -f "$d/.complete" ]; then printf '%s\n' "${d%/}"; fi
	done | sort -V | tail -n 1
}

# The wrapper: sid's loader and libraries, sid's modules and both firmware directories (without the
# -L options QEMU would silently take the host's older firmware).
write_wrapper() {
	local root=$1
	cat >"$root/qemu-system-x86_64" <<WRAP
#!/bin/sh
# Runs Debian sid's QEMU from this private root (written by tests/interop/qemu-root.sh).
R=\$(dirname "\$(readlink -f "\$0")")
export QEMU_MODULE_DIR="\$R/usr/lib/x86_64-linux-gnu/qemu"
exec "\$R/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu" \\
	"\$R/usr/bin/qemu-system-x86_64" -L "\$R/usr/share/qemu" -L "\$R/usr/share/seabios" "\$@"
WRAP
	chmod 0755 "$root/qemu-system-x86_64"
}

tmp=
cleanup() { [ -z "$tmp" ] || rm -rf "$tmp"; }
trap cleanup EXIT

main() {
	local have='' apt v ver dest deb
	mkdir -p "$CACHE"
	exec 9>"$CACHE/qemu-sid.lock"
	flock 9
	have=$(newest_cached)
	if [ -n "$have" ] && [ -z "${VUP_QEMU_REFRESH:-}" ]; then
		echo "$have/qemu-system-x86_64"
		return
	fi
	tmp=$(mktemp -d "$CACHE/.qemu-sid-build.XXXXXX")
	apt=$tmp/apt
	# A private apt with an empty dpkg status: the whole dependency closure of sid's qemu-system-x86
	# is downloaded, and nothing of the host's changes.
	apt_private "$apt" sid
	msg "fetching Debian sid's package list from $(debian_mirror)"
	apt-get -q update >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; return 1; }
	v=$(apt-cache policy qemu-system-x86 | sed -n 's/^  Candidate: //p')
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		msg "sid has no qemu-system-x86 on $(debian_mirror)"
		return 1
	fi
	ver=${v#*:}
	ver=${ver%%+*}
	dest=$CACHE/qemu-sid-$ver
	if [ -f "$dest/.complete" ]; then
		echo "$dest/qemu-system-x86_64"
		return
	fi
	msg "downloading qemu-system-x86 $v and its dependencies"
	apt-get -q -y --download-only install qemu-system-x86 >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; return 1; }
	mkdir "$tmp/root"
	for deb in "$apt"/archives/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done
	rm -rf "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/usr/share/locale"
	write_wrapper "$tmp/root"
	ver=$(root_version "$tmp/root")
	if ! version_ok "$ver"; then
		msg "sid's QEMU is ${ver:-unrunnable}, this test needs >= $MIN_MAJOR.$MIN_MINOR"
		return 1
	fi
	echo "$v" >"$tmp/root/.debian-version"
	touch "$tmp/root/.complete"
	rm -rf "$dest"
	mv "$tmp/root" "$dest"
	msg "QEMU $ver ready in $dest"
	echo "$dest/qemu-system-x86_64"
}

main "$@"
