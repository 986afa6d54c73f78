#!/usr/bin/env bash
# tests/vm/sid-build-root.sh: a Debian sid root to build out-of-tree modules for a kernel.sh sid kernel (sid's gcc, make, libc and that kernel's headers and kbuild), cached; prints the root.
#
# usage: sid-build-root.sh KERNEL_ENTRY    (a directory tests/vm/kernel.sh sid printed)
# sid's kbuild tools (linux-kbuild-7.x: fixdep, modpost) are linked against sid's libc and its kernel was
# built by sid's gcc, so its modules build inside a sid root (tests/vm/module-build.sh runs the build
# there with chroot in a private mount namespace). The root holds linux-headers-<release> at exactly the
# entry's version with what it depends on (linux-headers-<release>-common, linux-kbuild-7.x, the gcc
# the kernel was built with), gcc, make, libc6-dev and the essential tools a build runs (sh, bash,
# coreutils, sed, grep, awk...): sid's packages, fetched with a private apt configuration and an empty
# dpkg status (apt-get --download-only; the host's apt state is untouched) and unpacked with dpkg-deb -x,
# no maintainer script run (the links those would make, awk and cc, are made here). Its headers are at
# ROOT/usr/src/linux-headers-<release>.
# Cached in ${VUP_CACHE:-/var/cache/vfio-user-proxy}/vm/sid-build-root-<release>_<version>; a new
# one supersedes the older ones. Progress goes to stderr. Needs root (chroot).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/interop/apt-private.sh
. "$here/../interop/apt-private.sh"

entry=${1:?usage: sid-build-root.sh KERNEL_ENTRY}
CACHE=${VUP_CACHE:-/var/cache/vfio-user-proxy}
log() { echo "sid-build-root.sh: $*" >&2; }
die() {
	echo "sid-build-root.sh: error: $*" >&2
	exit 1
}
# Besides the headers (which bring kbuild and the kernel's gcc): what a module build runs.
TOOLS=(gcc make libc6-dev binutils base-files dash bash coreutils sed grep mawk diffutils findutils tar xz-utils)

release=$(cat "$entry/release")
version=$(awk '$1 ~ /^linux-(image|binary)-/ { print $2; exit }' "$entry/package")
{ [ -n "$release" ] && [ -n "$version" ]; } || die "cannot read the release and version from $entry"
dest=$CACHE/vm/sid-build-root-${release}_${version//:/%}
if [ -e "$dest/.complete" ]; then
	echo "$dest"
	exit 0
fi
mkdir -p "$CACHE/vm"
exec 9>"$CACHE/vm/.lock-sid-build-root"
flock 9
if [ -e "$dest/.complete" ]; then
	echo "$dest"
	exit 0
fi

t0=$(date +%s)
apt=$CACHE/vm/apt/sid-build-root
rm -rf "$apt/archives"
apt_private "$apt" sid
log "refreshing sid's package lists ($(debian_mirror))"
apt-get -q update >"$apt/update.log" 2>&1 || die "apt-get update failed: $(tail -n 3 "$apt/update.log")"
log "fetching linux-headers-$release $version, ${TOOLS[*]} and what they depend on"
apt-get -q -y --download-only install "linux-headers-$release=$version" "${TOOLS[@]}" >"$apt/install.log" 2>&1 ||
	die "apt-get --download-only install failed (is $version still sid's?): $(tail -n 3 "$apt/install.log")"

tmp=$(mktemp -d "$CACHE/vm/.sid-build-root.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir "$root"
: >"$tmp/packages"
for deb in "$apt"/archives/*.deb; do
	# shellcheck disable=SC2016 # dpkg-deb's own format fields
	dpkg-deb --showformat='${Package} ${Version}\n' -W "$deb" >>"$tmp/packages"
	dpkg-deb -x "$deb" "$root"
done
rm -rf "$apt/archives" "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale" "$root/usr/share/info"
# Merged /usr: base-files ships the /bin, /lib... links; make them if it did not.
for d in bin sbin lib lib64; do
	[ -e "$root/$d" ] || [ ! -d "$root/usr/$d" ] || ln -s "usr/$d" "$root/$d"
done
# What update-alternatives and the maintainer scripts would have made.
[ -e "$root/usr/bin/awk" ] || ln -s mawk "$root/usr/bin/awk"
[ -e "$root/usr/bin/cc" ] || ln -s gcc "$root/usr/bin/cc"
[ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
mkdir -p "$root/dev" "$root/proc" "$root/tmp" "$root/work"
chmod 1777 "$root/tmp"
hdr=/usr/src/linux-headers-$release
[ -f "$root$hdr/Makefile" ] || die "no $hdr/Makefile in the root"
grep -qx "linux-headers-$release $version" "$tmp/packages" || die "linux-headers-$release is not at $version"
# ...nor what it brought of the same source (-common, linux-kbuild)
! awk -v v="$version" '$1 ~ /^linux-(headers|kbuild)-/ && $2 != v { print; bad = 1 } END { exit !bad }' \
	"$tmp/packages" >&2 || die "headers or kbuild of another version than $version (above)"
# The root must run its own tools.
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/usr/sbin sh -c 'gcc --version && make --version' >"$tmp/check.log" 2>&1 ||
	die "sid's gcc or make does not run in the root: $(tail -n 3 "$tmp/check.log")"
mv "$tmp/packages" "$root/.packages"
echo "$release" >"$root/.release"
echo $(($(date +%s) - t0)) >"$root/.build-seconds"
touch "$root/.complete"
rm -rf "$dest"
mv "$root" "$dest"
rm -rf "$tmp"
trap - EXIT
for old in "$CACHE"/vm/sid-build-root-*/; do
	old=${old%/}
	[ "$old" = "$dest" ] && continue
	log "removing superseded $(basename "$old")"
	rm -rf "$old"
done
log "root for $release ($version) ready in $dest after $(cat "$dest/.build-seconds") s"
echo "$dest"
