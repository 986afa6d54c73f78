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
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
HOST_SOURCES=/etc/apt/sources.list.d/debian.sources
aptdir=$CACHE/vm/apt/$suite
kdir=$CACHE/vm/kernels

log() { echo "kernel.sh[$suite]: $*" >&2; }
die() {
	echo "kernel.sh[$suite]: error: $*" >&2
	exit 1
}

[ -r "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring)"
command -v depmod >/dev/null || die "depmod missing (package kmod; tests/vm/deps.sh installs it)"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.list.d" \
	"$aptdir/preferences.d" "$kdir"

# One fetch per suite at a time (two benches started together share the cache).
exec 9>"$CACHE/vm/.lock-$suite"
flock 9

# The mirror comes from the host's own configuration, never from this file.
mirror_uri() {
	if [ -r "$HOST_SOURCES" ]; then
		awk '/^URIs:/ { uri = $2 } /^Suites:/ { if ($0 !~ /-security/ && uri != "") { print uri; exit } }' \
			"$HOST_SOURCES"
	elif [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $0 !~ /-security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list
	fi
}

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

apt_opts=(
	-o "Dir::Etc::SourceList=$aptdir/sources.list"
	-o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
	-o "Dir::Etc::Preferences=$aptdir/preferences"
	-o "Dir::Etc::PreferencesParts=$aptdir/preferences.d"
	-o "Dir::State::Lists=$aptdir/lists"
	-o "Dir::State::status=$aptdir/status"
	-o "Dir::State::extended_states=$aptdir/extended_states"
	-o "Dir::Cache=$aptdir/cache"
	-o "Dir::Cache::pkgcache=pkgcache.bin"
	-o "Dir::Cache::srcpkgcache=srcpkgcache.bin"
	-o "Acquire::Check-Valid-Until=false"
	-o "APT::Sandbox::User=root"
	-o "APT::Architecture=amd64"
)

stamp=$aptdir/lists/.refreshed
if [ "${VUP_APT_REFRESH:-0}" = 1 ] || [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	write_sources
	: >"$aptdir/status"
	: >"$aptdir/preferences"
	log "refreshing the private package lists"
	if apt-get "${apt_opts[@]}" -qq update >&2; then
		touch "$stamp"
	elif [ -e "$stamp" ]; then
		# Offline with a cache: say so, and go on with the lists we have.
		log "WARNING: apt-get update failed; using the package lists of $(date -r "$stamp" '+%F %T')"
	else
		die "apt-get update (private lists for $suite) failed"
	fi
fi

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
