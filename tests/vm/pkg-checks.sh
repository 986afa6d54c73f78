#!/bin/bash
# tests/vm/pkg-checks.sh: the pkg guest's bench (vup-bench.service): the project's Debian packages installed with apt-get under Debian's own systemd, udevd and DKMS; DKMS builds the bridge for the running kernel, a bound device gets its unit, a client built from the -dev package talks to it and to the bridge's device; purge leaves nothing behind.
#
# The packages are in /var/cache/vup-debs; reports on the console as tests/vm/report.sh says; powers
# the guest off at the end.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RESULTS=/tmp/results
: >"$RESULTS"
# shellcheck source=tests/vm/report.sh
. /etc/vm/report.sh
# shellcheck source=tests/vm/sd_lib.sh
. /etc/vm/sd_lib.sh
trap finish EXIT
export DEBIAN_FRONTEND=noninteractive

release=$(uname -r)
echo "INFO guest $release, $(systemctl --version | head -n 1), $(dpkg-query -W -f '${Package} ${Version}' dkms), bench at $(cut -d' ' -f1 /proc/uptime) s"
udevadm settle --timeout=30 || fail udev-settle "udevadm settle timed out"
EDU=$(find_pci 0x1234 0x11e8 "") || fail edu-present "no 1234:11e8 device"
PKGS="vfio-user-proxy vfio-user-proxy-dkms libvfio-user-client-dev"
UNIT_FILE=/lib/systemd/system/vfio-user-proxy@.service
RULES=/lib/udev/rules.d/70-vfio-user-proxy.rules
SRC=/usr/src/vfio-user-proxy-bridge-$(cat /etc/vm/version)

# A device bound to vfio-pci before the package comes (by hand, through sysfs): the install exports it.
if [ -n "${EDU:-}" ]; then
	modprobe vfio-pci
	echo vfio-pci >"/sys/bus/pci/devices/$EDU/driver_override"
	echo "$EDU" >/sys/bus/pci/drivers_probe
	[ "$(driver_of "$EDU")" = vfio-pci ] || fail pkg.bound-before-install "$EDU is on '$(driver_of "$EDU")', not vfio-pci"
fi

# --- apt-get install ./*.deb: DKMS builds the module in the dkms package's postinst ---
debs=$(ls /var/cache/vup-debs/*.deb | grep -v -- '-dbgsym_')
t0=$(now_ms)
# shellcheck disable=SC2086
if apt-get install -y --no-install-recommends $debs >/tmp/apt.log 2>&1; then
	echo "MEASURE pkg.apt-get-install $(($(now_ms) - t0)) ms (three packages; DKMS builds the module under TCG)"
	pass pkg.install
else
	fail pkg.install "apt-get install $debs failed:"
	dump /tmp/apt.log
	exit 1
fi
grep -i -E 'warning|error' /tmp/apt.log | grep -v -E '^(W: )?Download is performed unsandboxed' >/tmp/apt.warn
if [ -s /tmp/apt.warn ]; then
	fail pkg.install-quiet "apt-get install printed warnings or errors:"
	dump /tmp/apt.log
else
	pass pkg.install-quiet
fi
for f in /usr/bin/vfio-user-proxy "$RULES" "$UNIT_FILE" /usr/lib/sysusers.d/vfio-user-proxy.conf \
	/usr/lib/tmpfiles.d/vfio-user-proxy.conf /usr/share/man/man8/vfio-user-proxy.8.gz \
	/usr/share/man/man5/vfio-user-proxy.conf.5.gz /usr/share/bash-completion/completions/vfio-user-proxy \
	"$SRC/dkms.conf" /usr/include/vfio-user-proxy/client.h; do
	[ -e "$f" ] || fail pkg.files "$f missing"
done
grep -q '^FAIL pkg.files' "$RESULTS" || pass pkg.files
if getent group vfio-user >/dev/null && getent passwd vfio-user-proxy >/dev/null; then
	pass pkg.group-created
else
	fail pkg.group-created "no group vfio-user or user vfio-user-proxy after install"
fi
if [ "$(stat -c '%a %U %G' /run/vfio-user 2>/dev/null)" = "750 root vfio-user" ]; then
	pass pkg.runtime-dir
else
	fail pkg.runtime-dir "/run/vfio-user is '$(stat -c '%a %U %G' /run/vfio-user 2>&1)', want '750 root vfio-user'"
fi
if out=$(systemd-analyze verify --man=no vfio-user-proxy@check.service 2>&1) && [ -z "$out" ]; then
	pass pkg.unit-verify
else
	fail pkg.unit-verify "systemd-analyze verify: $out"
fi

if [ -n "${EDU:-}" ]; then
	if wait_for 30 test -S "/run/vfio-user/$EDU.sock" && unit_active "$EDU"; then
		pass pkg.install-exports-bound-devices
	else
		fail pkg.install-exports-bound-devices "$EDU was on vfio-pci at install: unit $(systemctl is-active "vfio-user-proxy@$EDU.service")"
	fi
	# back to no driver, as the tests below start from
	vfio-user-proxy unbind "$EDU" >/tmp/unbind.log 2>&1 || fail pkg.unbind-first "$(cat /tmp/unbind.log)"
	wait_for 30 unit_gone "$EDU" || fail pkg.unbind-first "unit still $(systemctl is-active "vfio-user-proxy@$EDU.service")"
fi

# --- DKMS built and installed the bridge for this kernel; it loads and serves a device ---
dkms status >/tmp/dkms.log 2>&1
if grep -q "^vfio-user-proxy-bridge/.*, $release, .*: installed" /tmp/dkms.log; then
	pass pkg.dkms-installed
else
	fail pkg.dkms-installed "dkms status for $release:"
	dump /tmp/dkms.log
	for l in /var/lib/dkms/vfio-user-proxy-bridge/*/build/make.log; do [ -e "$l" ] && dump "$l"; done
fi
ko=$(modinfo -n vup_bridge 2>/dev/null)
if [ "$ko" = "/lib/modules/$release/updates/dkms/vup_bridge.ko" ] && [ "$(modinfo -F vermagic vup_bridge | cut -d' ' -f1)" = "$release" ]; then
	pass pkg.module-for-kernel
else
	fail pkg.module-for-kernel "modinfo vup_bridge: '$ko', vermagic '$(modinfo -F vermagic vup_bridge 2>&1)'"
fi
# a client of the installed -dev package, built with its pkg-config file and nothing else
if cc -Wall -Wextra -Werror -o /tmp/client_smoke /usr/local/share/vup/client_smoke.c \
	$(pkg-config --cflags vfio-user-client) $(pkg-config --static --libs vfio-user-client) >/tmp/cc.log 2>&1; then
	pass pkg.dev-client-builds
else
	fail pkg.dev-client-builds "cc with pkg-config vfio-user-client failed:"
	dump /tmp/cc.log
fi
# the bridge (libkmod loads the DKMS module), its mdev served by export, the client through it
if vfio-user-proxy bridge create --name pkg0 --json >/tmp/bridge.json 2>/tmp/bridge.log &&
	[ -d /sys/module/vup_bridge ] &&
	uuid=$(sed -n 's/.*"uuid": *"\([0-9a-f-]*\)".*/\1/p' /tmp/bridge.json) && [ -e "/sys/bus/mdev/devices/$uuid" ]; then
	pass pkg.bridge-create
	vfio-user-proxy export "/sys/bus/mdev/devices/$uuid" --socket-path /tmp/pkg0.sock --allow-no-reset \
		2>/tmp/export.log &
	epid=$!
	if wait_for 20 test -S /tmp/pkg0.sock && out=$(timeout 30 /tmp/client_smoke /tmp/pkg0.sock 2>&1); then
		pass "pkg.bridge-device-served ($out)"
	else
		fail pkg.bridge-device-served "client_smoke on the bridge's mdev $uuid: ${out:-no socket}"
		dump /tmp/export.log
	fi
	kill "$epid" 2>/dev/null
	wait "$epid" 2>/dev/null
	vfio-user-proxy bridge destroy pkg0 >>/tmp/bridge.log 2>&1 || fail pkg.bridge-destroy "$(tail -n 1 /tmp/bridge.log)"
else
	fail pkg.bridge-create "vfio-user-proxy bridge create failed:"
	cat /tmp/bridge.json >>/tmp/bridge.log
	dump /tmp/bridge.log
fi

# --- binding a device starts its unit (the packaged rule and unit); the -dev client talks to it ---
if [ -n "${EDU:-}" ]; then
	sock=/run/vfio-user/$EDU.sock
	t0=$(now_ms)
	if vfio-user-proxy bind "$EDU" >/tmp/bind.log 2>&1 && wait_for 30 test -S "$sock" && unit_active "$EDU"; then
		echo "MEASURE pkg.bind-to-socket $(($(now_ms) - t0)) ms"
		pass pkg.bind-starts-unit
		if out=$(setpriv --reuid=nobody --regid=nogroup --groups="$(getent group vfio-user | cut -d: -f3)" \
			timeout 30 /tmp/client_smoke "$sock" 2>&1); then
			pass "pkg.unit-serves-client ($out)"
		else
			fail pkg.unit-serves-client "client_smoke as a member of vfio-user on $sock: $out"
			journalctl -b --no-pager -o cat -u "vfio-user-proxy@$EDU.service" >/tmp/j.log 2>&1
			dump /tmp/j.log
		fi
	else
		fail pkg.bind-starts-unit "bind $EDU: unit $(systemctl is-active "vfio-user-proxy@$EDU.service"), socket $(ls "$sock" 2>&1)"
		dump /tmp/bind.log
	fi
	# edu has no reset: after its one client the proxy stops (exit 3) and is not restarted. Served
	# again (bind once more), so that the purge below finds a unit running.
	mkdir -p /etc/vfio-user-proxy
	echo "EXPORT_OPTIONS=--allow-no-reset" >"/etc/vfio-user-proxy/$EDU.conf"
	vfio-user-proxy unbind "$EDU" >/tmp/unbind.log 2>&1 || fail pkg.unbind "$(cat /tmp/unbind.log)"
	wait_for 30 unit_gone "$EDU" || fail pkg.unbind "the unit is still $(systemctl is-active "vfio-user-proxy@$EDU.service") after unbind"
	vfio-user-proxy bind "$EDU" >/tmp/bind.log 2>&1
	if wait_for 30 test -S "$sock" && unit_active "$EDU"; then pass pkg.rebind-starts-unit; else
		fail pkg.rebind-starts-unit "unit $(systemctl is-active "vfio-user-proxy@$EDU.service") after the second bind"
	fi
	rm -f "/etc/vfio-user-proxy/$EDU.conf"
fi
vfio-user-proxy bridge create --name pkg1 >/tmp/bridge.log 2>&1 || fail pkg.bridge-create-again "$(tail -n 1 /tmp/bridge.log)"

# --- apt-get purge: no unit, rule, group, user, module or DKMS state left; running units stopped ---
t0=$(now_ms)
# shellcheck disable=SC2086
if apt-get purge -y $PKGS >/tmp/purge.log 2>&1; then
	echo "MEASURE pkg.apt-get-purge $(($(now_ms) - t0)) ms"
	pass pkg.purge
else
	fail pkg.purge "apt-get purge failed:"
	dump /tmp/purge.log
fi
left=
for p in $PKGS; do
	st=$(dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null) && [ -n "${st// /}" ] && [ "${st:0:2}" != un ] && left="$left $p($st)"
done
for f in /usr/bin/vfio-user-proxy "$UNIT_FILE" "$RULES" /usr/lib/sysusers.d/vfio-user-proxy.conf \
	/usr/lib/tmpfiles.d/vfio-user-proxy.conf /usr/share/man/man8/vfio-user-proxy.8.gz "$SRC" \
	/var/lib/dkms/vfio-user-proxy-bridge /usr/include/vfio-user-proxy /run/vfio-user /etc/vfio-user-proxy; do
	[ -e "$f" ] && left="$left $f"
done
left="$left $(find /lib/modules /usr/lib/modules -name 'vup_bridge.ko*' 2>/dev/null | tr '\n' ' ')"
[ -d /sys/module/vup_bridge ] && left="$left module-loaded"
getent group vfio-user >/dev/null && left="$left group:vfio-user"
getent passwd vfio-user-proxy >/dev/null && left="$left user:vfio-user-proxy"
no_units() { ! systemctl list-units --all --no-legend 'vfio-user-proxy@*' | grep -q .; }
wait_for 10 no_units || left="$left $(systemctl list-units --all --no-legend 'vfio-user-proxy@*' | tr -s ' ' | tr '\n' ';')"
if [ -z "${left// /}" ]; then
	pass pkg.purge-leaves-nothing
else
	fail pkg.purge-leaves-nothing "left behind:$left"
	dump /tmp/purge.log
fi
# the device is still on vfio-pci, and nothing serves it any more
if [ -n "${EDU:-}" ]; then
	if [ "$(driver_of "$EDU")" = vfio-pci ] && [ ! -e "/run/vfio-user/$EDU.sock" ] &&
		! pgrep -x vfio-user-proxy >/dev/null; then
		pass pkg.nothing-serves-after-purge
	else
		fail pkg.nothing-serves-after-purge "$EDU on '$(driver_of "$EDU")', proxies: $(pgrep -a -x vfio-user-proxy | tr '\n' ';')"
	fi
fi
