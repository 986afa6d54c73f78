#!/bin/bash
# tests/vm/systemd-checks.sh: the systemd guest's bench (vup-bench.service): the project as make install put it, under Debian's own systemd and udevd; bind a device, the rule starts its unit (Type=notify), the socket serves the client checks inside the unit's sandbox, systemctl reload hands a client's session over, unbind stops it.
#
# Reports on the console as tests/vm/report.sh says; powers the guest off at the end.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RESULTS=/tmp/results
: >"$RESULTS"
CHECK_TIMEOUT=90
# shellcheck source=tests/vm/report.sh
. /etc/vm/report.sh
# shellcheck source=tests/vm/sd_lib.sh
. /etc/vm/sd_lib.sh
trap finish EXIT

echo "INFO guest $(uname -r), $(systemctl --version | head -n 1), bench at $(cut -d' ' -f1 /proc/uptime) s"
udevadm settle --timeout=30 || fail udev-settle "udevadm settle timed out"
UNIT_FILE=/usr/lib/systemd/system/vfio-user-proxy@.service
RULES=/usr/lib/udev/rules.d/70-vfio-user-proxy.rules

# --- what make install put in place, as systemd saw it at boot ---
for f in /usr/bin/vfio-user-proxy "$RULES" "$UNIT_FILE" /usr/lib/sysusers.d/vfio-user-proxy.conf \
	/usr/lib/tmpfiles.d/vfio-user-proxy.conf; do
	[ -e "$f" ] || fail installed "$f missing"
done
grep -q '^FAIL installed' "$RESULTS" || pass installed
if getent group vfio-user >/dev/null && getent passwd vfio-user-proxy >/dev/null; then
	pass sysusers
else
	fail sysusers "systemd-sysusers did not create the group vfio-user and the user vfio-user-proxy:"
	journalctl -b --no-pager -u systemd-sysusers.service >/tmp/j.log 2>&1
	dump /tmp/j.log
fi
if [ "$(stat -c '%a %U %G' /run/vfio-user 2>/dev/null)" = "750 root vfio-user" ]; then
	pass tmpfiles
else
	fail tmpfiles "/run/vfio-user is '$(stat -c '%a %U %G' /run/vfio-user 2>&1)', want '750 root vfio-user'"
fi

# restarted BDF OLD_PID: the unit runs again, with another main process
restarted() {
	local p
	p=$(systemctl show -p MainPID --value "vfio-user-proxy@$1.service")
	unit_active "$1" && [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$2" ]
}

EDU=$(find_pci 0x1234 0x11e8 "") || fail edu-present "no 1234:11e8 device"
NVME=$(find_pci "" "" 0x010802) || fail nvme-present "no nvme device"

# --- the unit, checked by systemd's own tools (verify reads a colon in a name as FILE:UNIT: an instance
# name without one stands for the device) ---
# (Documentation= is checked against man's index where the root has man.)
man=no
if command -v man >/dev/null; then man=yes; fi
if out=$(systemd-analyze verify --man=$man vfio-user-proxy@check.service 2>&1) && [ -z "$out" ]; then
	pass unit-verify
else
	fail unit-verify "systemd-analyze verify: $out"
fi
score=$(systemd-analyze security --offline=yes vfio-user-proxy@check.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
if [ -n "$score" ]; then
	echo "MEASURE systemd-analyze-security $score (0 safest, 10 most exposed)"
	pass unit-security-score
else
	fail unit-security-score "systemd-analyze security printed no overall exposure level"
fi

# reload LABEL BDF SOCK: with a client's session open on SOCK, `systemctl reload` hands the proxy over
# (ExecReload=upgrade --pid $MAINPID): the reload succeeds, the main pid changes (the unit's --seccomp: the
# privileged helper starts the successor), the old one is gone, the unit stays active, the session
# carries on (vm-trust --session-until), the journal has upgrade's line and no failure.
reload() {
	local label=$1 bdf=$2 sock=$3 unit="vfio-user-proxy@$2.service" old new cursor t0 client
	local stop=/tmp/session.stop log=/tmp/session.log
	rm -f "$stop" "$log"
	old=$(systemctl show -p MainPID --value "$unit")
	if [ "$(systemctl show -p Type --value "$unit")" = notify ] && unit_active "$bdf" &&
		[ "$(systemctl show -p StatusText --value "$unit")" = serving ]; then
		pass "$label.notify-ready"
	else
		fail "$label.notify-ready" "Type=$(systemctl show -p Type --value "$unit"), $(systemctl is-active "$unit"), status '$(systemctl show -p StatusText --value "$unit")'"
	fi
	cursor=$(journalctl -u "$unit" -n 1 --show-cursor -o cat 2>/dev/null | sed -n 's/^-- cursor: //p')
	vm-trust --socket "$sock" --label "$label" --session-until "$stop" >"$log" 2>&1 &
	client=$!
	if ! wait_for 20 grep -q "session up" "$log"; then
		fail "$label.reload" "no client session on $sock:"
		dump "$log"
		kill "$client" 2>/dev/null
		wait "$client" 2>/dev/null
		return
	fi
	t0=$(now_ms)
	if systemctl reload "$unit" >/tmp/reload.log 2>&1; then
		echo "MEASURE $label.reload $(($(now_ms) - t0)) ms (systemctl reload: upgrade until the successor serves)"
		pass "$label.reload"
	else
		fail "$label.reload" "systemctl reload $unit failed:"
		dump /tmp/reload.log
	fi
	new=$(systemctl show -p MainPID --value "$unit")
	if [ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$old" ] && wait_for 10 sh -c "! kill -0 $old 2>/dev/null" &&
		[ "$(awk '/^Seccomp:/ { print $2 }' "/proc/$new/status")" = 2 ] &&
		[ "$(awk '/^Uid:/ { print $2 }' "/proc/$new/status")" = "$(id -u vfio-user-proxy)" ]; then
		pass "$label.reload-new-mainpid"
	else
		fail "$label.reload-new-mainpid" "MainPID $old -> $new; old $(kill -0 "$old" 2>/dev/null && echo alive || echo gone)"
	fi
	if unit_active "$bdf" && [ "$(systemctl show -p StatusText --value "$unit")" = "serving (handed over)" ]; then
		pass "$label.reload-unit-active"
	else
		fail "$label.reload-unit-active" "$(systemctl is-active "$unit"), status '$(systemctl show -p StatusText --value "$unit")'"
	fi
	touch "$stop"
	wait "$client"
	tee -a "$RESULTS" <"$log"
	grep -q "^PASS $label.session-across-reload" "$log" || grep -q "^FAIL $label.session-across-reload" "$log" ||
		fail "$label.session-across-reload" "vm-trust said nothing"
	journalctl -u "$unit" -o cat ${cursor:+--after-cursor "$cursor"} >/tmp/j.log 2>&1
	if grep -q "upgraded: pid $old -> $new" /tmp/j.log && grep -q "hand-over: serving as pid $new" /tmp/j.log &&
		! grep -Eqi " error: |seccomp stopped|failed|refused" /tmp/j.log; then
		pass "$label.reload-journal"
	else
		fail "$label.reload-journal" "the unit's journal since the reload:"
		dump /tmp/j.log
	fi
	grep -q "not our child" /tmp/j.log && echo "INFO $label: systemd: $(grep -m1 'not our child' /tmp/j.log)"
}

# serve LABEL BDF KIND: bind BDF with the proxy's own command; the rule starts the unit; its socket
# serves vm-checks; the sandbox is in force; unbind gives the device back to DRIVER_BEFORE.
serve() {
	local label=$1 bdf=$2 kind=$3 before t0 t1 sock pid st
	sock=/run/vfio-user/$bdf.sock
	before=$(driver_of "$bdf")
	echo "INFO $label: $bdf starts on driver '${before:-none}'"
	t0=$(now_ms)
	if ! vfio-user-proxy bind "$bdf" >/tmp/bind.log 2>&1; then
		fail "$label.bind" "vfio-user-proxy bind $bdf failed:"
		dump /tmp/bind.log
		return
	fi
	if ! wait_for 30 test -S "$sock"; then
		fail "$label.unit-start" "no $sock within 30 s of bind; unit $(systemctl is-active "vfio-user-proxy@$bdf.service")"
		journalctl -b --no-pager -n 40 >/tmp/j.log 2>&1 && dump /tmp/j.log
		return
	fi
	t1=$(now_ms)
	echo "MEASURE $label.bind-to-socket $((t1 - t0)) ms (systemd unit started by the udev rule)"
	pass "$label.bind"
	if unit_active "$bdf"; then pass "$label.unit-start"; else fail "$label.unit-start" "unit not active"; fi
	if [ "$(stat -c '%a %U %G' "$sock")" = "660 root vfio-user" ]; then
		pass "$label.socket-perms"
	else
		fail "$label.socket-perms" "socket is '$(stat -c '%a %U %G' "$sock")', want '660 root vfio-user'"
	fi
	if out=$(udevadm test --action=bind "/sys/bus/pci/devices/$bdf" 2>&1) &&
		grep -q "SYSTEMD_WANTS=vfio-user-proxy@$bdf.service" <<<"$out"; then
		pass "$label.udevadm-test"
	else
		fail "$label.udevadm-test" "udevadm test does not show SYSTEMD_WANTS=vfio-user-proxy@$bdf.service"
	fi
	pid=$(systemctl show -p MainPID --value "vfio-user-proxy@$bdf.service")
	st=/proc/$pid/status
	# the sandbox: the proxy's user, its seccomp filter, no new privileges, root's capabilities cut to
	# chown, kill, setgid, setuid (bits 0, 5, 6, 7), a read-only root in its mount namespace
	if [ "$(awk '/^Uid:/ { print $2 }' "$st")" = "$(id -u vfio-user-proxy)" ] &&
		[ "$(awk '/^Seccomp:/ { print $2 }' "$st")" = 2 ] && [ "$(awk '/^NoNewPrivs:/ { print $2 }' "$st")" = 1 ] &&
		[ "$(awk '/^CapBnd:/ { print $2 }' "$st")" = 00000000000000e1 ] &&
		awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro'; then
		pass "$label.sandbox"
	else
		fail "$label.sandbox" "pid $pid: $(grep -E '^(Uid|Seccomp|NoNewPrivs|CapBnd):' "$st" | tr '\t\n' '  ') root mount $(awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | tr '\n' ' ')"
	fi
	# who may connect: a member of vfio-user, not anyone else
	if setpriv --reuid=nobody --regid=nogroup --groups="$(getent group vfio-user | cut -d: -f3)" \
		vfio-user-proxy probe "$sock" >/tmp/probe.log 2>&1; then
		pass "$label.group-member-connects"
	else
		fail "$label.group-member-connects" "probe as nobody in group vfio-user failed:"
		dump /tmp/probe.log
	fi
	if setpriv --reuid=nobody --regid=nogroup --clear-groups vfio-user-proxy probe "$sock" >/tmp/probe.log 2>&1; then
		fail "$label.others-refused" "probe as nobody outside vfio-user connected"
	else
		pass "$label.others-refused"
	fi
	timeout "$CHECK_TIMEOUT" vm-checks --socket "$sock" --label "$label" --kind "$kind" --proxy-pid "$pid" 2>&1 |
		tee -a "$RESULTS" || grep -q "^FAIL $label\." "$RESULTS" ||
		fail "$label.vm-checks" "vm-checks exited non-zero without a FAIL line"
	reload "$label" "$bdf" "$sock"
	pid=$(systemctl show -p MainPID --value "vfio-user-proxy@$bdf.service")
	# Restart=on-failure: a proxy killed is started again by systemd, on the same socket
	kill -KILL "$pid"
	if wait_for 30 restarted "$bdf" "$pid" && wait_for 10 test -S "$sock" &&
		vfio-user-proxy probe "$sock" >/tmp/probe.log 2>&1; then
		pass "$label.restarted-after-kill"
	else
		fail "$label.restarted-after-kill" "no new proxy serving $sock within 30 s of SIGKILL to $pid"
	fi
	t0=$(now_ms)
	if ! vfio-user-proxy unbind "$bdf" >/tmp/unbind.log 2>&1; then
		fail "$label.unbind" "vfio-user-proxy unbind $bdf failed:"
		dump /tmp/unbind.log
		return
	fi
	if wait_for 30 unit_gone "$bdf" && [ ! -e "$sock" ]; then
		echo "MEASURE $label.unbind-to-stopped $(($(now_ms) - t0)) ms"
		pass "$label.unbind-stops-unit"
	else
		fail "$label.unbind-stops-unit" "unit $(systemctl is-active "vfio-user-proxy@$bdf.service"), socket $(ls "$sock" 2>&1)"
	fi
	echo "INFO $label: the unit's log:"
	journalctl -b --no-pager -o cat -u "vfio-user-proxy@$bdf.service" >/tmp/j.log 2>&1
	dump /tmp/j.log
	if [ "$(driver_of "$bdf")" = "$before" ]; then
		pass "$label.driver-restored"
	else
		fail "$label.driver-restored" "$bdf is on '$(driver_of "$bdf")', was on '$before'"
	fi
}

# nvme starts on Debian's nvme driver (udev loaded it at boot); edu has none and no reset, so its
# per-device configuration file lets it serve client after client (vm-checks reconnects).
if [ -n "${NVME:-}" ]; then
	if [ "$(driver_of "$NVME")" = nvme ]; then pass nvme.host-driver-at-boot; else
		fail nvme.host-driver-at-boot "nvme is on '$(driver_of "$NVME")' after boot, not on nvme"
	fi
	serve sd-nvme "$NVME" nvme
fi
if [ -n "${EDU:-}" ]; then
	mkdir -p /etc/vfio-user-proxy
	echo "EXPORT_OPTIONS=--allow-no-reset" >"/etc/vfio-user-proxy/$EDU.conf"
	serve sd-edu "$EDU" edu
fi

# Opting a device out with the udev property: bound, it gets no unit; opted back in, it does.
if [ -n "${EDU:-}" ]; then
	echo 'SUBSYSTEM=="pci", KERNEL=="'"$EDU"'", ENV{VFIO_USER_PROXY}="0"' >/etc/udev/rules.d/60-vup-opt-out.rules
	udevadm control --reload
	# the unit's last start, as systemd keeps it: the same after bind when no start was asked for
	started() { systemctl show -p InactiveExitTimestampMonotonic --value "vfio-user-proxy@$EDU.service"; }
	before=$(started)
	if vfio-user-proxy bind "$EDU" >/tmp/bind.log 2>&1 && udevadm settle --timeout=20 && ! wait_for 5 test -S "/run/vfio-user/$EDU.sock" &&
		[ "$(started)" = "$before" ]; then
		pass sd-edu.opt-out-by-property
	else
		fail sd-edu.opt-out-by-property "bound with VFIO_USER_PROXY=0: unit $(systemctl is-active "vfio-user-proxy@$EDU.service"), last start $before -> $(started)"
	fi
	vfio-user-proxy unbind "$EDU" >/tmp/unbind.log 2>&1
	rm -f /etc/udev/rules.d/60-vup-opt-out.rules
	udevadm control --reload
	# and with the file /etc/vfio-user-proxy/BDF.disabled: the rule asks for the unit, its condition refuses
	condition_failed() { [ "$(systemctl show -p ConditionResult --value "vfio-user-proxy@$EDU.service")" = no ]; }
	touch "/etc/vfio-user-proxy/$EDU.disabled"
	if vfio-user-proxy bind "$EDU" >/tmp/bind.log 2>&1 && udevadm settle --timeout=20 && wait_for 10 condition_failed &&
		[ ! -e "/run/vfio-user/$EDU.sock" ]; then
		pass sd-edu.opt-out-by-file
	else
		fail sd-edu.opt-out-by-file "bound with $EDU.disabled: unit $(systemctl is-active "vfio-user-proxy@$EDU.service"), condition $(systemctl show -p ConditionResult --value "vfio-user-proxy@$EDU.service")"
	fi
	vfio-user-proxy unbind "$EDU" >/tmp/unbind.log 2>&1
	rm -f "/etc/vfio-user-proxy/$EDU.disabled"
fi
