# tests/vm/watch_checks.sh: sourced by the busybox guest's /init: `vfio-user-proxy watch` with no udevd, following the kernel's bind and unbind events while `vfio-user-proxy bind`/`unbind` move edu and nvme.
# shellcheck shell=sh
#
# Needs from /init: EDU, NVME, edu_bound, nvme_bound, force, CHECK_TIMEOUT, STOP_TIMEOUT and report.sh.
# Both devices are on vfio-pci when it starts (bound by /init); nvme's host driver is loaded where the kernel has one.

WDIR=/run/vfio-user
WLOG=/tmp/watch.log

driver_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }
# wait_for SECONDS COMMAND...: polls every 50 ms until COMMAND succeeds; 1 on timeout.
wait_for() {
	end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.05
	done
}
is_socket() { [ -S "$1" ]; }
no_file() { [ ! -e "$1" ]; }
# The pid watch last started for BDF (from its log), or nothing.
child_of() { sed -n "s/.*watch: $1: started pid \([0-9]*\).*/\1/p" "${2:-$WLOG}" | tail -n 1; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
dead() { ! alive "$1"; }
new_child() { c=$(child_of "$1") && [ -n "$c" ] && [ "$c" != "$2" ] && alive "$c" && [ -S "$WDIR/$1.sock" ]; }
# Children of the watch process still running (zombies included).
children_of() { grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null | wc -l; }

# w_client LABEL BDF KIND: the client checks against watch's child for BDF.
w_client() {
	pid=$(child_of "$2")
	timeout "$CHECK_TIMEOUT" vm-checks --socket "$WDIR/$2.sock" --label "$1" --kind "$3" --proxy-pid "$pid" 2>&1 |
		tee -a "$RESULTS" || grep -q "^FAIL $1\." "$RESULTS" || fail "$1.vm-checks" "vm-checks exited non-zero without a FAIL line"
}

# w_cycle BDF: unbind (the child exits and its socket goes), bind (a new child, a new socket); 0 or 1.
w_cycle() {
	old=$(child_of "$1")
	vfio-user-proxy unbind "$1" >/tmp/w-unbind.log 2>&1 || return 1
	wait_for 20 dead "$old" && wait_for 20 no_file "$WDIR/$1.sock" || return 1
	vfio-user-proxy bind "$1" >/tmp/w-bind.log 2>&1 || return 1
	wait_for 20 new_child "$1" "$old"
}

watch_checks() {
	[ "$edu_bound" = 1 ] && [ "$nvme_bound" = 1 ] || {
		skip watch "edu and nvme are not both on vfio-pci"
		return 0
	}
	# shellcheck disable=SC2086 # $force is a list of words
	vfio-user-proxy watch --dir "$WDIR" --allow-no-reset --seccomp $force >"$WLOG" 2>&1 &
	WATCH_PID=$!
	if wait_for 20 is_socket "$WDIR/$EDU.sock" && wait_for 20 is_socket "$WDIR/$NVME.sock"; then
		pass watch.exports-bound-devices
	else
		fail watch.exports-bound-devices "no sockets in $WDIR for $EDU and $NVME after 20 s:"
		dump "$WLOG"
		kill -KILL "$WATCH_PID"
		return 0
	fi
	if grep -q "following binds through the kernel" "$WLOG"; then
		pass watch.kernel-uevents
	else
		fail watch.kernel-uevents "watch does not say it follows the kernel's uevents (no udevd here)"
	fi
	w_client w-edu "$EDU" edu
	w_client w-nvme "$NVME" nvme

	# unbind: the child exits by itself (the kernel's device request), its socket goes; the device was
	# bound by /init, so the driver it had before is not recorded: the kernel probes it (nvme takes it
	# where the kernel has the driver)
	host=
	[ -d /sys/bus/pci/drivers/nvme ] && host=nvme
	echo "INFO watch: nvme's host driver here: '${host:-none}'"
	old=$(child_of "$NVME")
	t0=$(now_ms)
	if vfio-user-proxy unbind "$NVME" >/tmp/w-unbind.log 2>&1 && wait_for 20 dead "$old" &&
		wait_for 20 no_file "$WDIR/$NVME.sock"; then
		echo "MEASURE watch.unbind-to-child-gone $(($(now_ms) - t0)) ms"
		pass watch.unbind-stops-child
	else
		fail watch.unbind-stops-child "child $old $(alive "$old" && echo alive), socket $(ls "$WDIR/$NVME.sock" 2>&1):"
		dump /tmp/w-unbind.log
	fi
	if [ "$(driver_of "$NVME")" = "$host" ]; then pass watch.nvme-probed-back; else
		fail watch.nvme-probed-back "nvme is on '$(driver_of "$NVME")' after unbind, not on '${host:-no driver}'"
	fi
	# bind from the host driver: recorded, a child and a socket appear; unbind gives it back
	t0=$(now_ms)
	if vfio-user-proxy bind "$NVME" >/tmp/w-bind.log 2>&1 && wait_for 20 new_child "$NVME" "$old"; then
		echo "MEASURE watch.bind-to-socket $(($(now_ms) - t0)) ms (nvme, from driver '${host:-none}')"
		pass watch.bind-starts-child
	else
		fail watch.bind-starts-child "no new child and socket for $NVME within 20 s of bind:"
		dump /tmp/w-bind.log
		dump "$WLOG"
	fi
	if vfio-user-proxy unbind "$NVME" >/tmp/w-unbind.log 2>&1 && [ "$(driver_of "$NVME")" = "$host" ] &&
		wait_for 20 no_file "$WDIR/$NVME.sock"; then
		pass watch.driver-restored
	else
		fail watch.driver-restored "after bind and unbind nvme is on '$(driver_of "$NVME")':"
		dump /tmp/w-unbind.log
	fi

	# a child killed is restarted (the others untouched)
	old=$(child_of "$EDU")
	kill -KILL "$old"
	if wait_for 20 new_child "$EDU" "$old"; then
		pass watch.restarts-killed-child
	else
		fail watch.restarts-killed-child "no new child for $EDU within 20 s of SIGKILL to $old:"
		dump "$WLOG"
	fi

	# 20 unbind/bind cycles of edu: a child each time, no fd or child left behind
	fds0=$(ls "/proc/$WATCH_PID/fd" | wc -l)
	kids0=$(children_of "$WATCH_PID")
	i=0 t0=$(now_ms)
	while [ $i -lt 20 ] && w_cycle "$EDU"; do i=$((i + 1)); done
	fds1=$(ls "/proc/$WATCH_PID/fd" | wc -l)
	kids1=$(children_of "$WATCH_PID")
	if [ $i -eq 20 ] && [ "$fds0" = "$fds1" ] && [ "$kids0" = "$kids1" ]; then
		echo "MEASURE watch.unbind-bind-cycle $((($(now_ms) - t0) / 20)) ms each (20 cycles)"
		pass watch.20-cycles-no-leak
	else
		fail watch.20-cycles-no-leak "$i of 20 cycles; watch's fds $fds0 -> $fds1, children $kids0 -> $kids1:"
		dump /tmp/w-unbind.log
		dump /tmp/w-bind.log
		tail -n 20 "$WLOG" >/tmp/w-tail.log
		dump /tmp/w-tail.log
	fi
	w_client w-edu-after "$EDU" edu

	# SIGTERM: every child stops, every socket goes, watch exits 0
	last=$(child_of "$EDU")
	kill -TERM "$WATCH_PID"
	( sleep "$STOP_TIMEOUT"; kill -KILL "$WATCH_PID" 2>/dev/null ) &
	watchdog=$!
	wait "$WATCH_PID"
	rc=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	if [ $rc = 0 ] && dead "$last" && [ -z "$(ls "$WDIR")" ]; then
		pass watch.sigterm-stops-all
	else
		fail watch.sigterm-stops-all "exit $rc, child $last $(alive "$last" && echo alive), $WDIR: $(ls "$WDIR" | tr '\n' ' ')"
		dump "$WLOG"
	fi

	# --once: exports what is bound (edu; nvme is back on its host driver) and exits 0 once its child has
	# (here: stopped by SIGTERM, which an export answers with 0)
	vfio-user-proxy watch --once --dir "$WDIR" --allow-no-reset --seccomp $force >/tmp/watch-once.log 2>&1 &
	once=$!
	if wait_for 20 is_socket "$WDIR/$EDU.sock" && [ ! -e "$WDIR/$NVME.sock" ]; then
		kill -TERM "$(child_of "$EDU" /tmp/watch-once.log)"
		( sleep "$STOP_TIMEOUT"; kill -KILL "$once" 2>/dev/null ) &
		watchdog=$!
		wait "$once"
		rc=$?
		kill "$watchdog" 2>/dev/null
		wait "$watchdog" 2>/dev/null
		if [ $rc = 0 ] && grep -q "every child has ended: 1 exited 0, 0 given up on" /tmp/watch-once.log; then
			pass watch.once
		else
			fail watch.once "exit $rc:"
			dump /tmp/watch-once.log
		fi
	else
		fail watch.once "watch --once did not export just edu:"
		dump /tmp/watch-once.log
		kill -KILL "$once"
	fi
}
