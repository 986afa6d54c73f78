#!/bin/bash
# tests/vm/systemd-checks.sh: the systemd guest's bench (vup-bench.service): the project as make install put it, under Debian's own systemd and udevd; bind a device, the rule starts its unit (Type=notify), the socket serves the client checks inside the unit's sandbox, systemctl reload hands a client's session over, a SIGKILL in the middle of one is survived (systemd restarts the proxy, which resumes the session from the unit's fd store), unbind stops it.
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

# journal_since CURSOR UNIT FILE: the unit's journal after CURSOR (all of it without one) into FILE.
journal_since() {
	journalctl -u "$2" -o cat ${1:+--after-cursor "$1"} >"$3" 2>&1
}
journal_cursor() {
	journalctl -u "$1" -n 1 --show-cursor -o cat 2>/dev/null | sed -n 's/^-- cursor: //p'
}
# journal_count CURSOR UNIT FILE PATTERN N: at least N lines matching PATTERN (grep -E) since CURSOR.
journal_count() {
	journal_since "$1" "$2" "$3"
	[ "$(grep -Ec "$4" "$3")" -ge "$5" ]
}

# kill_resume LABEL BDF SOCK: --fd-store under systemd's own store. With a client's session open on SOCK
# (vm-trust --session-until), SIGKILL the unit's main process, KILLS times: each time systemd starts it
# again (Restart=on-failure, RestartSec=1s; NRestarts one more), confined as before (seccomp filter, the
# proxy's user), the unit active, the socket file the same one (its inode) while down and after; the journal
# since the kill has systemd's own line for the SIGKILL, the proxy's `fd store: resuming the session` and no
# failure; the client is answered again on the same connection (its wait across the kill, RestartSec
# included: the MEASURE line). After the session, clients come and go with the same process serving on.
KILLS=3
KILL_WAIT_MS=500
kill_resume() {
	local label=$1 bdf=$2 sock=$3 unit="vfio-user-proxy@$2.service" stop=/tmp/kill-session.stop log=/tmp/kill-session.log
	local client i old new nr ino cursor k w down status waits=() kills=0 replays=0 why
	local w_restart='' w_active='' w_socket='' w_journal='' w_answered='' broke='' want j=/tmp/kill-j.log
	rm -f "$stop" "$log"
	vm-trust --socket "$sock" --label "$label" --session-until "$stop" --session-check session-across-kill \
		--session-measure session-across-kill-longest-wait --session-waits "$KILL_WAIT_MS" >"$log" 2>&1 &
	client=$!
	if ! wait_for 20 grep -q "session up" "$log"; then
		fail "$label.session-across-kill" "no client session on $sock:"
		dump "$log"
		kill "$client" 2>/dev/null
		wait "$client" 2>/dev/null
		return
	fi
	for i in $(seq 1 "$KILLS"); do
		# somewhere in the client's 2 ms cycle: a request on its way, in the proxy, or none
		sleep "0.$((RANDOM % 6 + 2))"
		old=$(systemctl show -p MainPID --value "$unit")
		nr=$(systemctl show -p NRestarts --value "$unit")
		ino=$(stat -c %i "$sock" 2>/dev/null)
		cursor=$(journal_cursor "$unit")
		if [ -z "$old" ] || [ "$old" = 0 ] || ! unit_active "$bdf"; then
			w_restart=${w_restart:-"kill $i of $KILLS: no main process to kill (MainPID '$old', $(systemctl is-active "$unit"))"}
			broke="no kill $i of $KILLS"
			break
		fi
		k=$(now_ms)
		kill -KILL "$old"
		kills=$i
		# down: systemd waits RestartSec=1s (SubState auto-restart); the socket file stays for the restart.
		# Polled every 0.2 s here and below: the bench shares the guest's 2 CPUs with the restart it times.
		down="not seen down"
		if WAIT_PERIOD=0.2 wait_for 10 sh -c "[ \"\$(systemctl show -p SubState --value '$unit')\" = auto-restart ]"; then
			if [ -S "$sock" ] && [ "$(stat -c %i "$sock")" = "$ino" ]; then down=kept; else
				down="$(ls -li "$sock" 2>&1) (inode was $ino)"
			fi
		fi
		if ! WAIT_PERIOD=0.2 wait_for 30 restarted "$bdf" "$old"; then
			w_restart=${w_restart:-"kill $i of $KILLS: no new main process within 30 s of SIGKILL to $old ($(systemctl is-active "$unit"), $(systemctl show -p SubState --value "$unit"))"}
			journal_since "$cursor" "$unit" "$j"
			dump "$j"
			broke="no restart after kill $i of $KILLS"
			break
		fi
		new=$(systemctl show -p MainPID --value "$unit")
		if [ "$(awk '/^Seccomp:/ { print $2 }' "/proc/$new/status")" != 2 ] ||
			[ "$(awk '/^Uid:/ { print $2 }' "/proc/$new/status")" != "$(id -u vfio-user-proxy)" ] ||
			[ "$(systemctl show -p NRestarts --value "$unit")" != $((nr + 1)) ] || kill -0 "$old" 2>/dev/null; then
			w_restart=${w_restart:-"kill $i of $KILLS: MainPID $old -> $new: $(grep -E '^(Uid|Seccomp):' "/proc/$new/status" | tr '\t\n' '  ')NRestarts $nr -> $(systemctl show -p NRestarts --value "$unit"), old $(kill -0 "$old" 2>/dev/null && echo alive || echo gone)"}
		fi
		status=$(systemctl show -p StatusText --value "$unit")
		if ! unit_active "$bdf" || [ "${status#serving}" = "$status" ]; then
			w_active=${w_active:-"kill $i of $KILLS: $(systemctl is-active "$unit"), status '$(systemctl show -p StatusText --value "$unit")'"}
		fi
		if [ "$down" != kept ] || [ ! -S "$sock" ] || [ "$(stat -c %i "$sock")" != "$ino" ]; then
			w_socket=${w_socket:-"kill $i of $KILLS: while down: $down; after the restart: $(ls -li "$sock" 2>&1) (inode was $ino)"}
		fi
		# answered again: the client's first wait line that ends after the kill
		if WAIT_PERIOD=0.2 wait_for 20 sh -c "awk -v k=$k '/ wait .* [(]answers at / { if (\$(NF - 1) + 0 > k) f = 1 } END { exit !f }' '$log' ||
			! kill -0 $client 2>/dev/null"; then
			w=$(awk -v k="$k" '/ wait .* [(]answers at / && $(NF - 1) + 0 > k { print $4; exit }' "$log")
		fi
		if [ -n "${w:-}" ]; then
			waits+=("$w")
		else
			w_answered=${w_answered:-"kill $i of $KILLS: the client had no answer after the restart: $(grep -E '^(FAIL|INFO)' "$log" | tail -n 2 | tr '\n' ' ')"}
		fi
		w=''
		# the journal: systemd's own lines for the kill (expected), the proxy resuming, nothing failing
		wait_for 10 journal_count "$cursor" "$unit" "$j" "fd store: resuming the session" 1
		grep -q "fd store: message .* had been .* before the restart" "$j" && replays=$((replays + 1))
		if ! grep -q "^$unit: Main process exited, code=killed, status=9/KILL" "$j" ||
			! grep -q "fd store: resuming the session saved at generation" "$j" ||
			grep -v -e "^$unit: Main process exited, code=killed, status=9/KILL" -e "^$unit: Failed with result 'signal'\.$" "$j" |
			grep -Eqi " error: |seccomp stopped|failed|refused|afresh"; then
			if [ -z "$w_journal" ]; then
				w_journal="kill $i of $KILLS: the unit's journal since the kill:"
				cp "$j" /tmp/kill-j.first
			fi
		fi
		[ -n "$w_answered" ] && ! kill -0 "$client" 2>/dev/null && break
	done
	if [ -z "$w_restart" ]; then pass "$label.kill-restarted"; else fail "$label.kill-restarted" "$w_restart"; fi
	# a round the restart cut short verified nothing more: no PASS for it
	if [ -n "$w_active" ]; then fail "$label.kill-unit-active" "$w_active"; elif [ -n "$broke" ]; then
		skip "$label.kill-unit-active" "$broke"
	else pass "$label.kill-unit-active"; fi
	if [ -n "$w_socket" ]; then fail "$label.kill-socket-kept" "$w_socket"; elif [ -n "$broke" ]; then
		skip "$label.kill-socket-kept" "$broke"
	else pass "$label.kill-socket-kept"; fi
	if [ -n "$w_journal" ]; then
		fail "$label.kill-journal" "$w_journal"
		dump /tmp/kill-j.first
	elif [ -n "$broke" ]; then skip "$label.kill-journal" "$broke"; else pass "$label.kill-journal"; fi
	if [ -n "$w_answered" ]; then fail "$label.kill-answered" "$w_answered"; elif [ -n "$broke" ]; then
		skip "$label.kill-answered" "$broke"
	else pass "$label.kill-answered"; fi
	if [ ${#waits[@]} -gt 0 ]; then
		echo "MEASURE $label.kill-unavailable median $(printf '%s\n' "${waits[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }') ms (each kill: ${waits[*]} ms; the client's wait from its last answer before the SIGKILL to its first after, RestartSec=1s included)"
	fi
	echo "INFO $label: $replays of $kills kills came while a request was being handled (answered from the journal)"
	# the kills' restarts count against StartLimitBurst=5 within 60 s: the checks after get a budget of their own
	systemctl reset-failed "$unit"
	cursor=$(journal_cursor "$unit")
	touch "$stop"
	wait "$client"
	tee -a "$RESULTS" <"$log"
	grep -q "^PASS $label.session-across-kill" "$log" || grep -q "^FAIL $label.session-across-kill" "$log" ||
		fail "$label.session-across-kill" "vm-trust said nothing"
	# the next clients: the session's end (when it lasted), then two probes, each departure logged as ready
	# for the next (nvme: after its reset and the device fd lent to the probe revoked), by the same process
	old=$(systemctl show -p MainPID --value "$unit")
	nr=$(systemctl show -p NRestarts --value "$unit")
	why=''
	want=0
	if grep -q "^PASS $label.session-across-kill" "$log"; then
		want=1
		wait_for 20 journal_count "$cursor" "$unit" "$j" "gone .*waiting for the next| error: " 1
	fi
	for i in 1 2; do
		if ! vfio-user-proxy probe "$sock" >/tmp/probe.log 2>&1; then
			why=${why:-"probe $i after the session failed: $(tr '\n' ' ' </tmp/probe.log)"}
		fi
		want=$((want + 1))
		wait_for 20 journal_count "$cursor" "$unit" "$j" "gone .*waiting for the next| error: " "$want"
	done
	if [ -z "$why" ] && { ! unit_active "$bdf" || [ "$(systemctl show -p MainPID --value "$unit")" != "$old" ] ||
		[ "$(systemctl show -p NRestarts --value "$unit")" != "$nr" ] ||
		[ "$(grep -c "gone .*waiting for the next" "$j")" -lt "$want" ] || grep -Eqi " error: |seccomp stopped|failed" "$j"; }; then
		why="after the session and two probes: $(systemctl is-active "$unit"), MainPID $old -> $(systemctl show -p MainPID --value "$unit"), NRestarts $nr -> $(systemctl show -p NRestarts --value "$unit"); the journal since the session's end:"
	fi
	if [ -z "$why" ]; then pass "$label.kill-next-client"; else
		fail "$label.kill-next-client" "$why"
		journal_since "$cursor" "$unit" "$j"
		dump "$j"
	fi
	# a failure above may leave the unit restarting: the checks after want it serving
	wait_for 30 unit_active "$bdf"
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
	kill_resume "$label" "$bdf" "$sock"
	pid=$(systemctl show -p MainPID --value "vfio-user-proxy@$bdf.service")
	# Restart=on-failure: a proxy killed is started again by systemd, on the same socket (never kill 0: the
	# bench's own process group)
	[ -n "$pid" ] && [ "$pid" != 0 ] && kill -KILL "$pid"
	if [ -n "$pid" ] && [ "$pid" != 0 ] && wait_for 30 restarted "$bdf" "$pid" && wait_for 10 test -S "$sock" &&
		vfio-user-proxy probe "$sock" >/tmp/probe.log 2>&1; then
		pass "$label.restarted-after-kill"
	else
		fail "$label.restarted-after-kill" "no new proxy serving $sock within 30 s of SIGKILL to $([ "${pid:-0}" = 0 ] && echo "no process (MainPID '$pid')" || echo "$pid")"
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
