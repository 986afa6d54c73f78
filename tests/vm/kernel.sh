#!/usr/bin/env bash
# tests/vm/kernel.sh: fetches a Debian guest kernel and its modules through a private apt configuration into the cache outside the clone, keyed by package version; prints the cache entry.
#
# usage: kernel.sh bookworm|sid
#   bookworm  Debian 12's kernel (6.1), from the suites the host's own sources list
#   sid       Debian unstable's current kernel (7.x), from the same mirror
#
# The host's apt state is never touched: sources, lists, package cache, preferences and dpkg status
# are all private to ${VUP_CACHE:-/var/cache/vfio-user-proxy}/vm/apt/SUITE. Package indexes are refreshed
# when older than a day (VUP_APT_REFRESH=1 forces it). The entry printed on stdout holds:
#   vmlinuz   the kernel image (symlink)
#   moddir    the modules directory, with a modules.dep made by depmod (symlink)
#   release   the kernel release (uname -r)
#   package   the package names and versions it came from
# Nothing is installed on the host. Progress goes to stderr.
set -euo pipefail

suite=${1:-}
case "$suite" in
bookworm | sid) ;;
*)
	echo "usage: $0 bookworm|sid" >&2
	exit 2
	;;
esac

CACHE=${VUP_CACHE:-/var/cache/vfio-user-proxy}
aptdir=$CACHE/vm/apt/$suite
kdir=$CACHE/vm/kernels

log() { echo "kernel.sh[$suite]: $*" >&2; }
die() {
	echo "kernel.sh[$suite]: error: $*" >&2
	exit 1
}

command -v depmod >/dev/null || die "depmod missing (package kmod; tests/vm/deps.sh installs it)"
mkdir -p "$kdir"
# shellcheck source=tests/vm/apt.sh
. "$(dirname "$0")/apt.sh"

# One fetch per suite at a time (two benches started together share the cache).
exec 9>"$CACHE/vm/.lock-$suite"
flock 9

write_sources() {
	local uri
	case "$suite" in
	bookworm)
		# Debian 12 as the host configures it (main, updates and security suites).
		if [ -r "$HOST_SOURCES" ]; then
			cp "$HOST_SOURCES" "$aptdir/sources.list.d/debian.sources"
			: >"$aptdir/sources.list"
		else
			cp /etc/apt/sources.list "$aptdir/sources.list"
		fi
		;;
	sid)
		uri=$(mirror_uri)
		[ -n "$uri" ] || die "no Debian mirror found in $HOST_SOURCES or /etc/apt/sources.list"
		echo "deb [signed-by=$KEYRING] $uri sid main" >"$aptdir/sources.list"
		;;
	esac
}

apt_refresh write_sources

# linux-image-amd64 names the current ABI: linux-image-<release>.
release=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 |
	awk '!r && $1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { r = substr($2, 13) } END { print r }')
[ -n "$release" ] || die "cannot resolve linux-image-amd64 in $suite"
pkg_version() {
	{ apt-cache "${apt_opts[@]}" show --no-all-versions "$1" 2>/dev/null || true; } |
		awk '!v && $1 == "Version:" { v = $2 } END { print v }'
}
version=$(pkg_version "linux-image-$release")
[ -n "$version" ] || die "no version for linux-image-$release"
# sid splits the kernel: linux-binary-<release> (vmlinuz) and linux-modules-<release> (.ko.xz).
if [ -n "$(pkg_version "linux-binary-$release")" ]; then
	pkgs=("linux-binary-$release" "linux-modules-$release")
else
	pkgs=("linux-image-$release")
fi

entry=$kdir/${release}_${version//:/%}
if [ -e "$entry/.complete" ]; then
	echo "$entry"
	exit 0
fi

log "fetching ${pkgs[*]} ($version)"
tmp=$(mktemp -d "$kdir/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/debs" "$tmp/root"
(cd "$tmp/debs" && apt-get "${apt_opts[@]}" -qq download "${pkgs[@]}" >&2) || die "apt-get download ${pkgs[*]} failed"
: >"$tmp/package"
for deb in "$tmp"/debs/*.deb; do
	# shellcheck disable=SC2016 # dpkg-deb's own format fields
	dpkg-deb --showformat='${Package} ${Version}\n' -W "$deb" >>"$tmp/package"
	dpkg -x "$deb" "$tmp/root"
done
rm -rf "$tmp/debs"

# Merged /usr (sid ships only usr/lib/modules): give depmod the /lib/modules it expects.
if [ ! -e "$tmp/root/lib" ] && [ -d "$tmp/root/usr/lib/modules" ]; then
	ln -s usr/lib "$tmp/root/lib"
fi
moddir=lib/modules/$release
[ -d "$tmp/root/$moddir" ] || die "no $moddir in ${pkgs[*]}"
for f in "boot/vmlinuz-$release" "$moddir/vmlinuz"; do
	if [ -f "$tmp/root/$f" ]; then
		ln -s "root/$f" "$tmp/vmlinuz"
		break
	fi
done
[ -e "$tmp/vmlinuz" ] || die "no vmlinuz in ${pkgs[*]}"
# depmod wants these; sid's packages leave them out.
for f in modules.order modules.builtin modules.builtin.modinfo; do
	[ -e "$tmp/root/$moddir/$f" ] || : >"$tmp/root/$moddir/$f"
done
depmod -b "$tmp/root" "$release" || die "depmod failed"
ln -s "root/$moddir" "$tmp/moddir"
chmod 0755 "$tmp"
echo "$release" >"$tmp/release"
echo "$suite" >"$tmp/suite"
touch "$tmp/.complete"

# Older entries of this suite are superseded.
for old in "$kdir"/*/; do
	old=${old%/}
	if [ "$old" = "$entry" ] || [ ! -f "$old/suite" ] || [ "$(cat "$old/suite")" != "$suite" ]; then
		continue
	fi
	log "removing superseded $(basename "$old")"
	rm -rf "$old"
done
rm -rf "$entry"
mv "$tmp" "$entry"
trap - EXIT
log "cached in $entry"
echo "$entry"
