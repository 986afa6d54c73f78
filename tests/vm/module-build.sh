#!/usr/bin/env bash
# tests/vm/module-build.sh: builds the project's kernel module (the bridge) for a guest kernel of the bench, with W=1 and no warning allowed; prints the .ko path.
#
# usage: module-build.sh KERNEL_ENTRY OUT_DIR
#   KERNEL_ENTRY  a directory tests/vm/kernel.sh (bookworm, sid) or tests/vm/kernel-build.sh (iommufd) printed
#   OUT_DIR       gets src/ (a copy of the sources, built there), build.log and the .ko files
# Where it builds, per the entry's suite:
#   bookworm  on the host, against Debian's linux-headers for that kernel (tests/interop/kheaders.sh)
#   iommufd   on the host, against the tree kernel-build.sh kept in the entry (ENTRY/build)
#   sid       in a sid root (tests/vm/sid-build-root.sh: sid's gcc, libc, headers and kbuild), with chroot
#             in a private mount namespace (unshare -m: /dev, /proc and OUT_DIR are bound there only for
#             the build, so nothing stays mounted)
# The build is `make module KDIR=...` of the project's Makefile (MODULE_SRC=DIR builds DIR instead: its
# Makefile's module target, else its Kbuild with make -C KDIR M=DIR modules), with W=1 and CC set to the
# compiler the kernel was built with (its CONFIG_CC_VERSION_TEXT). It fails on any line of the build's
# log that says warning (the compiler's, modpost's, kbuild's). Prints the path of each .ko it built
# (copied to OUT_DIR), one a line; progress and the build time go to stderr. Needs root for sid (chroot).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ $# -eq 2 ] || {
	echo "usage: $0 KERNEL_ENTRY OUT_DIR" >&2
	exit 2
}
entry=$(cd "$1" && pwd) out=$2
src_dir=${MODULE_SRC:-$here/../..}
src_dir=$(cd "$src_dir" && pwd)
log() { echo "module-build.sh: $*" >&2; }
die() {
	echo "module-build.sh: error: $*" >&2
	exit 1
}

release=$(cat "$entry/release")
suite=$(cat "$entry/suite" 2>/dev/null || echo bookworm)
root=''
case "$suite" in
bookworm) kdir=$("$here/../interop/kheaders.sh" "$entry") ;;
iommufd)
	kdir=$entry/build
	[ -f "$kdir/Module.symvers" ] || die "$entry has no module build tree (an entry from before kernel-build.sh kept one)"
	;;
sid)
	root=$("$here/sid-build-root.sh" "$entry")
	kdir=/usr/src/linux-headers-$release
	;;
*) die "unknown suite '$suite' in $entry" ;;
esac
# The compiler the kernel was built with: kbuild warns when another one builds its modules.
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\{0,1\}\([^ "]*\) .*/\1/p' "$root$kdir/include/config/auto.conf")
[ -n "$cc" ] || die "no CONFIG_CC_VERSION_TEXT in $root$kdir/include/config/auto.conf"
[ -n "$root" ] || command -v "$cc" >/dev/null || die "the kernel was built by $cc, which the host lacks"

# The sources are copied: the kernels' builds must not share objects, and a chroot must see them.
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/src"
mkdir "$out/src"
tar -C "$src_dir" --exclude=./build --exclude=./.git -cf - . | tar -C "$out/src" -xf -
if [ -f "$out/src/Makefile" ] && grep -q '^module:' "$out/src/Makefile"; then
	what=module
elif [ -f "$out/src/Kbuild" ]; then
	what=kbuild
else
	die "$src_dir has neither a Makefile with a module target nor a Kbuild"
fi

# build_cmd SRC KDIR: the build, as sh -c runs it (in the root for sid, where SRC is /work/src).
build_cmd() {
	if [ "$what" = module ]; then
		echo "make -C $1 module KDIR=$2 W=1 CC=$cc"
	else
		echo "make -C $2 M=$1 W=1 CC=$cc modules"
	fi
}
t0=$(date +%s)
log "building for $release ($suite) against $kdir${root:+ in $root} with $cc"
rc=0
if [ -z "$root" ]; then
	# Not the calling make's jobserver and variables (run.sh runs under make vm-test).
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL LC_ALL=C sh -c "$(build_cmd "$out/src" "$kdir")" >"$out/build.log" 2>&1 || rc=$?
else
	[ "$(id -u)" -eq 0 ] || die "the sid build needs root (chroot)"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m --propagation private sh -c '
		set -e
		root=$1 out=$2 cmd=$3
		mount --bind /dev "$root/dev"
		mount -t proc proc "$root/proc"
		mount --bind "$out" "$root/work"
		exec chroot "$root" /usr/bin/env -i PATH=/usr/bin:/usr/sbin HOME=/tmp LC_ALL=C sh -c "$cmd"
	' sh "$root" "$out" "$(build_cmd /work/src "$kdir")" >"$out/build.log" 2>&1 || rc=$?
fi
t1=$(date +%s)
[ "$rc" -eq 0 ] || die "the build failed ($rc); $out/build.log ends: $(tail -n 5 "$out/build.log")"
if grep -i 'warning' "$out/build.log" >"$out/warnings"; then
	die "$(wc -l <"$out/warnings") warning line(s) in $out/build.log, first: $(head -n 1 "$out/warnings")"
fi
rm -f "$out/warnings"
mapfile -t kos < <(find "$out/src" -name '*.ko' | sort)
[ ${#kos[@]} -gt 0 ] || die "the build made no .ko; see $out/build.log"
log "built for $release in $((t1 - t0)) s, no warning"
for ko in "${kos[@]}"; do
	cp "$ko" "$out/"
	echo "$out/$(basename "$ko")"
done
