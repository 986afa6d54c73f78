#!/usr/bin/env bash
# tests/pkg/build.sh: builds the Debian packages (dpkg-buildpackage -b) from a copy of the source tree, so nothing lands in the tree or beside it; prints the directory holding the .deb files.
#
# usage: build.sh OUT_DIR
# The copy (OUT_DIR/src) holds the files git knows plus untracked ones not ignored, as a fresh clone
# with the working tree's changes would; the packages, .buildinfo and .changes land in OUT_DIR, the
# build log in OUT_DIR/build.log; the source package (dpkg-source -b of the same files, for lintian) in
# OUT_DIR/source. DEB_BUILD_OPTIONS passes through (nocheck skips the unit tests).
set -euo pipefail

[ $# -eq 1 ] || {
	echo "usage: $0 OUT_DIR" >&2
	exit 2
}
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
die() {
	echo "build.sh: error: $*" >&2
	exit 1
}
command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage missing (tests/pkg/deps.sh installs the build dependencies)"

rm -rf "$out/src" "$out/source" "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mkdir -p "$out/src"
(cd "$top" && git ls-files -z -c -o --exclude-standard | while IFS= read -r -d '' f; do
	[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
done | cpio --quiet -0 -pdm "$out/src")
version=$(cat "$out/src/VERSION")
mkdir -p "$out/source"
cp -a "$out/src" "$out/source/vfio-user-proxy-$version"
(cd "$out/source" && dpkg-source -b "vfio-user-proxy-$version" >"$out/source/dpkg-source.log" 2>&1) ||
	die "dpkg-source -b failed (log: $out/source/dpkg-source.log)"
rm -rf "$out/source/vfio-user-proxy-$version"
cd "$out/src"
dpkg-checkbuilddeps || die "build dependencies missing: run tests/pkg/deps.sh (or scripts/deps.sh --all)"
t0=$(date +%s)
if ! dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	die "dpkg-buildpackage failed (log: $out/build.log)"
fi
echo "build.sh: packages built in $(($(date +%s) - t0)) s" >&2
ls "$out"/*.deb >&2
echo "$out"
