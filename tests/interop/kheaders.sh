#!/usr/bin/env bash
# tests/interop/kheaders.sh: fetches the Debian headers (and kbuild) matching a tests/vm/kernel.sh kernel into the cache, for building guest modules; prints the headers directory.
#
# Usage: tests/interop/kheaders.sh KERNEL_ENTRY    (the directory tests/vm/kernel.sh printed)
# Prints a directory to build out-of-tree modules against (make -C DIR M=...). Cached in
# ${VUP_CACHE:-/var/cache/vfio-user-proxy}/interop/headers/<release>_<version>; nothing is installed
# on the host (private apt configuration, apt-get download, dpkg-deb -x).
set -euo pipefail
. "$(dirname "$0")/apt-private.sh"

entry=${1:?usage: kheaders.sh KERNEL_ENTRY}
CACHE=${VUP_CACHE:-/var/cache/vfio-user-proxy}
msg() { echo "kheaders: $*" >&2; }

release=$(cat "$entry/release")
suite=$(cat "$entry/suite" 2>/dev/null || echo bookworm)
# the version of the package the kernel image came from: the headers must be the very same build
# ("PACKAGE VERSION" lines; older entries said "Package: PACKAGE Version: VERSION")
version=$(awk '/linux-(image|binary)-/ { v = $2; for (i = 1; i < NF; i++) if ($i == "Version:") v = $(i + 1); print v; exit }' \
	"$entry/package")
if [ -z "$release" ] || [ -z "$version" ]; then
	msg "cannot read release and version from $entry"
	exit 1
fi
dest=$CACHE/interop/headers/${release}_${version//:/%}
if [ -f "$dest/.complete" ]; then
	echo "$dest/root/usr/src/linux-headers-$release"
	exit 0
fi

mkdir -p "$CACHE/interop/headers"
exec 9>"$CACHE/interop/headers/.lock"
flock 9
if [ -f "$dest/.complete" ]; then
	echo "$dest/root/usr/src/linux-headers-$release"
	exit 0
fi
tmp=$(mktemp -d "$CACHE/interop/headers/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ "$suite" = bookworm ]; then
	apt_private "$tmp/apt" host
else
	apt_private "$tmp/apt" "$suite"
fi
msg "fetching the package lists for $suite"
apt-get -q update >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; exit 1; }
# linux-headers-<release> and the linux-headers-*/linux-kbuild-* packages it depends on, same version
pkgs=("linux-headers-$release")
while read -r dep; do
	pkgs+=("$dep")
done < <(apt-cache depends "linux-headers-$release=$version" |
	awk '$1 == "Depends:" && $2 ~ /^linux-(headers|kbuild)-/ { print $2 }' | sort -u)
msg "fetching ${pkgs[*]} ($version)"
mkdir "$tmp/debs" "$tmp/root"
(cd "$tmp/debs" && apt-get -q download "${pkgs[@]/%/=$version}" >"$tmp/apt.log" 2>&1) ||
	{ cat "$tmp/apt.log" >&2; exit 1; }
for deb in "$tmp"/debs/*.deb; do
	dpkg-deb -x "$deb" "$tmp/root"
done
# The arch package's Makefile includes the common one by its absolute /usr/src path: point it here.
hdr=$tmp/root/usr/src/linux-headers-$release
[ -f "$hdr/Makefile" ] || { msg "no $hdr/Makefile"; exit 1; }
sed -i "s#^include /usr/src/#include $dest/root/usr/src/#" "$hdr/Makefile"
rm -rf "$tmp/apt" "$tmp/debs" "$tmp/apt.log"
touch "$tmp/.complete"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
msg "headers for $release cached in $dest"
echo "$dest/root/usr/src/linux-headers-$release"
