#!/usr/bin/env bash
# tests/pkg/check.sh: checks the built Debian packages on the host: lintian (no error, no warning), their versions and contents, the packaged manual pages, and the packaged program and client library end to end (a client built against the -dev package through its pkg-config file, talking to the packaged program's emulated device).
#
# usage: check.sh DEB_DIR
# One `PASS name` / `FAIL name: why` line per check; exit 1 if any failed.
set -uo pipefail

[ $# -eq 1 ] || {
	echo "usage: $0 DEB_DIR" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
debs=$(cd "$1" && pwd)
version=$(cat "$here/../../VERSION")
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
failed=0
pass() { echo "PASS pkg/$1"; }
fail() {
	echo "FAIL pkg/$1: $2"
	failed=1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/vup-pkg.XXXXXX")
emu_pid=
cleanup() {
	[ -z "$emu_pid" ] || kill "$emu_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

main=$debs/vfio-user-proxy_${version}_$arch.deb
dkms=$debs/vfio-user-proxy-dkms_${version}_all.deb
dev=$debs/libvfio-user-client-dev_${version}_$arch.deb
for f in "$main" "$dkms" "$dev" "$debs/vfio-user-proxy_${version}_$arch.changes" "$debs/source/vfio-user-proxy_$version.dsc"; do
	[ -f "$f" ] || fail built "$f missing (the package version must be VERSION's $version)"
done
[ "$failed" -eq 0 ] || exit 1
pass built

# --- lintian on the binary and the source packages: every tag printed, errors and warnings fail ---
if lintian --fail-on error,warning --display-info --pedantic "$debs/vfio-user-proxy_${version}_$arch.changes" \
	"$debs/source/vfio-user-proxy_$version.dsc" \
	>"$work/lintian" 2>&1; then
	pass lintian
else
	fail lintian "lintian reports errors or warnings:"
fi
grep -v '^running with root privileges' "$work/lintian" | sed 's/^/    | /'

# --- contents: what each package must hold ---
contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's#^\./#/#'; }
want_main="/usr/bin/vfio-user-proxy /lib/udev/rules.d/70-vfio-user-proxy.rules
/lib/systemd/system/vfio-user-proxy@.service /usr/lib/sysusers.d/vfio-user-proxy.conf
/usr/lib/tmpfiles.d/vfio-user-proxy.conf /usr/share/man/man8/vfio-user-proxy.8.gz
/usr/share/man/man5/vfio-user-proxy.conf.5.gz /usr/share/bash-completion/completions/vfio-user-proxy
/usr/share/doc/vfio-user-proxy/copyright"
src=/usr/src/vfio-user-proxy-bridge-$version
want_dkms="$src/dkms.conf $src/Kbuild $src/bridge/bridge_main.c $src/bridge/bridge_dev.c $src/bridge/bridge_irq.c
$src/bridge/bridge_genl.c $src/bridge/bridge.h $src/include/edu_model.h $src/include/vup_bridge.h
$src/proxy/model/edu_model.c"
want_dev="/usr/include/vfio-user-proxy/client.h /usr/include/vfio-user-proxy/vfio-user.h
/usr/lib/$multiarch/libvfio-user-client.a /usr/lib/$multiarch/pkgconfig/vfio-user-client.pc"
check_contents() {
	local name=$1 deb=$2 want=$3 have missing=
	have=$(contents "$deb")
	for f in $want; do
		grep -qxF "$f" <<<"$have" || missing="$missing $f"
	done
	if [ -z "$missing" ]; then pass "$name.contents"; else fail "$name.contents" "missing:$missing"; fi
}
check_contents vfio-user-proxy "$main" "$want_main"
check_contents vfio-user-proxy-dkms "$dkms" "$want_dkms"
check_contents libvfio-user-client-dev "$dev" "$want_dev"
if contents "$dkms" | grep -q '/usr/src/.*/dkms.conf' &&
	[ "$(contents "$main" | grep -c '^/usr/src/')" = 0 ] && [ "$(contents "$dev" | grep -c '^/usr/src/')" = 0 ]; then
	pass dkms-source-only-in-dkms-package
else
	fail dkms-source-only-in-dkms-package "only vfio-user-proxy-dkms may hold /usr/src"
fi
for deb in "$main" "$dkms" "$dev"; do dpkg-deb -x "$deb" "$work/root"; done
conf=$work/root$src/dkms.conf
if grep -qx "PACKAGE_VERSION=\"$version\"" "$conf" && grep -qx 'PACKAGE_NAME="vfio-user-proxy-bridge"' "$conf"; then
	pass dkms-conf-version
else
	fail dkms-conf-version "$conf: $(grep PACKAGE_ "$conf" | tr '\n' ' ')"
fi
if dpkg-deb -f "$main" Depends | grep -q 'dkms'; then
	fail depends "vfio-user-proxy depends on dkms ($(dpkg-deb -f "$main" Depends))"
elif ! dpkg-deb -f "$dkms" Depends | grep -q 'dkms'; then
	fail depends "vfio-user-proxy-dkms does not depend on dkms"
else
	pass depends
fi
if dpkg-deb -I "$main" postinst | grep -q 'systemd-sysusers' &&
	[ "$(dpkg-deb -I "$main" postinst | grep -n 'systemd-sysusers\|systemd-tmpfiles' | head -n 1 | grep -c sysusers)" = 1 ]; then
	pass postinst-sysusers-before-tmpfiles
else
	fail postinst-sysusers-before-tmpfiles "the postinst must create the group before /run/vfio-user (owned by it)"
fi

# --- the packaged manual pages render without a warning ---
for page in man8/vfio-user-proxy.8.gz man5/vfio-user-proxy.conf.5.gz; do
	f=$work/root/usr/share/man/$page
	out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 "$f" 2>&1 >/dev/null)
	if [ -z "$out" ] && zcat "$f" | groff -ww -z -man 2>&1 | grep -q .; then
		fail "man.${page#*/}" "groff -ww: $(zcat "$f" | groff -ww -z -man 2>&1 | head -n 1)"
	elif [ -z "$out" ]; then
		pass "man.${page#*/}"
	else
		fail "man.${page#*/}" "man --warnings: $(head -n 1 <<<"$out")"
	fi
done

# --- the packaged program serves; a client built from the -dev package alone talks to it ---
bin=$work/root/usr/bin/vfio-user-proxy
if [ "$("$bin" --version)" = "vfio-user-proxy $version" ]; then
	pass program-version
else
	fail program-version "$("$bin" --version 2>&1)"
fi
export PKG_CONFIG_SYSROOT_DIR=$work/root PKG_CONFIG_LIBDIR=$work/root/usr/lib/$multiarch/pkgconfig:/usr/lib/$multiarch/pkgconfig:/usr/share/pkgconfig
if [ "$(pkg-config --modversion vfio-user-client 2>&1)" != "$version" ]; then
	fail pkg-config "pkg-config --modversion vfio-user-client: $(pkg-config --modversion vfio-user-client 2>&1)"
elif ! ${CC:-cc} -Wall -Wextra -Werror -o "$work/client_smoke" "$here/client_smoke.c" \
	$(pkg-config --cflags vfio-user-client) $(pkg-config --static --libs vfio-user-client) 2>"$work/cc.log"; then
	fail pkg-config "the client does not build against the -dev package: $(head -n 3 "$work/cc.log")"
else
	pass pkg-config
	sock=$work/edu.sock
	"$bin" emulate --socket-path "$sock" 2>"$work/emulate.log" &
	emu_pid=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && grep -q 'serving ' "$work/emulate.log" && break
		sleep 0.05
	done
	if out=$(timeout 20 "$work/client_smoke" "$sock" 2>&1); then
		pass "client-library ($out)"
	else
		fail client-library "$out"
		sed 's/^/    | /' "$work/emulate.log"
	fi
fi

[ "$failed" -eq 0 ] && echo "pkg-check: all passed" || echo "pkg-check: FAILED"
exit "$failed"
