# tests/vm/bridge_ctl_checks.sh: sourced by tests/vm/bridge_checks.sh in the busybox guest: `vfio-user-proxy bridge` against the loaded module: create (--name, --msix), list (table, --json), events (create, open, reset, close, destroy), every fault injected, destroy by name.
# shellcheck shell=sh
#
# Call bridge_ctl_checks once the module vup_bridge is loaded. Needs from the caller: report.sh (pass,
# fail, skip, dump, now_ms), CHECK_TIMEOUT, vfio-user-proxy in PATH.
# Optional hook, defined by the caller: bridge_ctl_client SYSFS_PATH MODE LABEL, a VFIO user of the
# instance (the mdev at SYSFS_PATH). MODE basic: open it, read BAR0, run one DMA, reset it, close it. MODE
# dma-fail, err-irq, stall-reads or surprise-removal: open it and get ready to see the fault (the ERR
# eventfd for err-irq, the REQ eventfd for surprise-removal), run the command in $BRIDGE_INJECT (which
# arms the fault), then return 0 only if the device showed it as a real one would (the DMA's error status,
# the ERR eventfd fired, a BAR read that took at least $BRIDGE_STALL_MS ms, reads of all-ones and the
# device request). Without the hook those checks are SKIPs and the faults are only checked armed.

BC_DIR=/tmp/bridge-ctl
BC_NAME=ctl0

bc_has() { grep -q "$2" "$1" 2>/dev/null; }
bc_gone() { ! kill -0 "$1" 2>/dev/null; }
# bc_wait SECONDS COMMAND...: polls every 50 ms until COMMAND succeeds; 1 on timeout.
bc_wait() {
	bc_end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$bc_end" ] || return 1
		sleep 0.05
	done
}
# bc_field KEY FILE: the value of create's "KEY VALUE" line.
bc_field() { sed -n "s/^$1 //p" "$2"; }
# bc_counter NAME COLUMN: a column of the instance's row in `bridge list` (1 NAME ... 6 MMIO ... 10 OPENS).
bc_counter() { vfio-user-proxy bridge list 2>/dev/null | awk -v n="$1" -v c="$2" '$1 == n { print $c }'; }
# bc_one_line FILE NEEDLE: FILE is one line that says NEEDLE.
bc_one_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q -- "$2" "$1"; }

# bc_events_start NAME ARGS...: a `bridge events` listener in the background (BC_PID: its pid), once it
# has joined the group.
bc_events_start() {
	bc_n=$1
	shift
	vfio-user-proxy bridge events "$@" >"$BC_DIR/$bc_n.out" 2>"$BC_DIR/$bc_n.err" &
	BC_PID=$!
	bc_wait 10 bc_has "$BC_DIR/$bc_n.err" "listening for the events"
}

# bc_export SYSFS_PATH: export of the instance on $BC_DIR/export.sock in the background (BC_EXPORT: its pid).
bc_export() {
	rm -f "$BC_DIR/export.sock"
	# shellcheck disable=SC2086 # $force (from /init): the boot's IOMMU path
	vfio-user-proxy export "$1" --socket-path "$BC_DIR/export.sock" --seccomp ${force:-} >"$BC_DIR/export.log" 2>&1 &
	BC_EXPORT=$!
	bc_wait 10 test -S "$BC_DIR/export.sock" && return 0
	kill -KILL "$BC_EXPORT" 2>/dev/null
	echo "export did not listen within 10 s:"
	cat "$BC_DIR/export.log"
	return 1
}

bc_export_client() {
	case "$2" in
	basic)
		bc_export "$1" || return 1
		timeout "$CHECK_TIMEOUT" vm-checks --socket "$BC_DIR/export.sock" --label "$3" --kind emulated \
			--proxy-pid "$BC_EXPORT"
		bc_rc=$?
		kill -TERM "$BC_EXPORT"
		wait "$BC_EXPORT" || bc_rc=1
		[ "$bc_rc" -eq 0 ] || cat "$BC_DIR/export.log"
		return "$bc_rc"
		;;
	surprise-removal)
		bc_export "$1" || return 1
		# shellcheck disable=SC2086 # BRIDGE_INJECT is a command line
		$BRIDGE_INJECT || return 1
		# as for a device pulled out: the kernel asks for it back, export lets go and exits 0
		if ! bc_wait 15 bc_gone "$BC_EXPORT"; then
			echo "export still serving 15 s after the surprise removal:"
			kill -KILL "$BC_EXPORT"
			cat "$BC_DIR/export.log"
			return 1
		fi
		wait "$BC_EXPORT"
		bc_rc=$?
		cat "$BC_DIR/export.log"
		return "$bc_rc"
		;;
	esac
	return 77
}

bc_create() {
	bc_out=$BC_DIR/create.out
	if ! vfio-user-proxy bridge create --name "$BC_NAME" --msix 4 >"$bc_out" 2>"$BC_DIR/create.err"; then
		fail bridge.ctl.create "create --name $BC_NAME --msix 4 failed:"
		dump "$BC_DIR/create.err"
		return 1
	fi
	BC_UUID=$(bc_field uuid "$bc_out")
	BC_SYSFS=$(bc_field sysfs "$bc_out")
	bc_group=$(bc_field group "$bc_out")
	bc_cdev=$(bc_field cdev "$bc_out")
	if [ "$(bc_field name "$bc_out")" != "$BC_NAME" ] || [ -z "$BC_UUID" ] ||
		[ "$BC_SYSFS" != "/sys/bus/mdev/devices/$BC_UUID" ] || [ ! -d "$BC_SYSFS" ]; then
		fail bridge.ctl.create "its name, UUID or sysfs path is wrong or missing:"
		dump "$bc_out"
		return 1
	fi
	if [ -z "$bc_group$bc_cdev" ] || { [ -n "$bc_group" ] && [ ! -c "$bc_group" ]; } ||
		{ [ -n "$bc_cdev" ] && [ ! -c "$bc_cdev" ]; }; then
		fail bridge.ctl.create "no VFIO group or cdev node as printed:"
		dump "$bc_out"
		return 1
	fi
	# the mdev core's own view: the instance is of our type, in the IOMMU group printed
	if [ -n "$bc_group" ] && [ "$(basename "$(readlink "$BC_SYSFS/iommu_group")")" != "${bc_group#/dev/vfio/}" ]; then
		fail bridge.ctl.create "$BC_SYSFS/iommu_group is not $bc_group"
		return 1
	fi
	pass bridge.ctl.create
	vfio-user-proxy bridge create --name "$BC_NAME" >"$BC_DIR/taken.out" 2>"$BC_DIR/taken.err"
	bc_rc=$?
	if [ "$bc_rc" -eq 1 ] && bc_one_line "$BC_DIR/taken.err" "is taken"; then
		pass bridge.ctl.create-name-taken
	else
		fail bridge.ctl.create-name-taken "exit $bc_rc (want 1 and one line saying the name is taken):"
		dump "$BC_DIR/taken.err"
	fi
}

bc_list() {
	vfio-user-proxy bridge list >"$BC_DIR/list.out" 2>&1
	# NAME UUID GROUP CDEV OPEN MMIO DMA-BYTES IRQS RESETS OPENS
	if awk -v n="$BC_NAME" -v u="$BC_UUID" '$1 == n && $2 == u && NF == 10 && $5 == "no" { ok = 1 } END { exit !ok }' \
		"$BC_DIR/list.out" && head -n 1 "$BC_DIR/list.out" | grep -q "^NAME .*MMIO.*DMA-BYTES.*IRQS.*RESETS.*OPENS"; then
		pass bridge.ctl.list
	else
		fail bridge.ctl.list "no row for $BC_NAME $BC_UUID with its counters, closed:"
		dump "$BC_DIR/list.out"
	fi
	vfio-user-proxy bridge list --json >"$BC_DIR/list.json" 2>&1
	if [ "$(head -c 1 "$BC_DIR/list.json")" = "[" ] && [ "$(tail -n 1 "$BC_DIR/list.json")" = "]" ] &&
		grep -Eq "\"name\": ?\"$BC_NAME\"" "$BC_DIR/list.json" &&
		grep -Eq "\"uuid\": ?\"$BC_UUID\"" "$BC_DIR/list.json" && grep -Eq '"msix": ?4' "$BC_DIR/list.json" &&
		grep -Eq '"open": ?false' "$BC_DIR/list.json" && grep -Eq '"dma_bytes": ?[0-9]+' "$BC_DIR/list.json" &&
		grep -Eq '"opens": ?[0-9]+' "$BC_DIR/list.json"; then
		pass bridge.ctl.list-json
	else
		fail bridge.ctl.list-json "not the JSON array expected:"
		dump "$BC_DIR/list.json"
	fi
}

bc_basic_client() {
	BC_CLIENT_FN=bc_export_client
	command -v bridge_ctl_client >/dev/null 2>&1 && BC_CLIENT_FN=bridge_ctl_client
	bc_opens=$(bc_counter "$BC_NAME" 10)
	if ! "$BC_CLIENT_FN" "$BC_SYSFS" basic bridge.ctl.client >"$BC_DIR/client.log" 2>&1; then
		if [ "$BC_CLIENT_FN" = bc_export_client ] && grep -q "names no PCI device" "$BC_DIR/export.log"; then
			skip bridge.ctl.client "no VFIO client of mdev instances here (no bridge_ctl_client, and export takes no mdev)"
			return 1
		fi
		fail bridge.ctl.client "the VFIO client failed on $BC_SYSFS:"
		dump "$BC_DIR/client.log"
		return 1
	fi
	pass bridge.ctl.client
	if [ "$(bc_counter "$BC_NAME" 10)" -gt "${bc_opens:-0}" ] && [ "$(bc_counter "$BC_NAME" 6)" -gt 0 ] &&
		[ "$(bc_counter "$BC_NAME" 9)" -gt 0 ] && [ "$(bc_counter "$BC_NAME" 5)" = no ]; then
		pass bridge.ctl.counters
	else
		fail bridge.ctl.counters "opens, MMIO or resets did not grow, or it is still open:"
		vfio-user-proxy bridge list >"$BC_DIR/list2.out" 2>&1
		dump "$BC_DIR/list2.out"
	fi
	return 0
}

# bc_fault FAULT [--ms N]: armed (inject exits 0), then seen by the client where there is one.
bc_fault() {
	bc_f=$1
	shift
	BRIDGE_INJECT="vfio-user-proxy bridge inject $BC_NAME $bc_f $*"
	BRIDGE_STALL_MS=${2:-0}
	export BRIDGE_INJECT BRIDGE_STALL_MS
	if [ "$BC_CLIENT" = 1 ]; then
		"$BC_CLIENT_FN" "$BC_SYSFS" "$bc_f" "bridge.ctl.fault.$bc_f" >"$BC_DIR/fault-$bc_f.log" 2>&1
		bc_rc=$?
		if [ "$bc_rc" -eq 0 ]; then
			pass "bridge.ctl.fault.$bc_f"
			return
		elif [ "$bc_rc" -ne 77 ]; then
			fail "bridge.ctl.fault.$bc_f" "the client did not see it as a device would show it:"
			dump "$BC_DIR/fault-$bc_f.log"
			return
		fi
	fi
	# shellcheck disable=SC2086 # BRIDGE_INJECT is a command line
	if $BRIDGE_INJECT >"$BC_DIR/fault-$bc_f.log" 2>&1; then
		pass "bridge.ctl.inject.$bc_f"
	else
		fail "bridge.ctl.inject.$bc_f" "inject failed:"
		dump "$BC_DIR/fault-$bc_f.log"
	fi
	skip "bridge.ctl.fault.$bc_f" "no VFIO client here that sees it"
}

bc_faults() {
	bc_fault dma-fail
	bc_fault err-irq
	bc_fault stall-reads --ms 300
	# last: the instance reads all-ones from then on
	bc_fault surprise-removal
	vfio-user-proxy bridge inject "$BC_NAME" stall-reads >"$BC_DIR/inject-usage.err" 2>&1
	bc_rc=$?
	vfio-user-proxy bridge inject nosuch0 dma-fail >"$BC_DIR/inject-none.err" 2>&1
	bc_rc2=$?
	if [ "$bc_rc" -eq 2 ] && [ "$bc_rc2" -eq 1 ] && bc_one_line "$BC_DIR/inject-none.err" "no instance 'nosuch0'"; then
		pass bridge.ctl.inject-errors
	else
		fail bridge.ctl.inject-errors "stall-reads without --ms exited $bc_rc (want 2), an unknown instance $bc_rc2 (want 1):"
		dump "$BC_DIR/inject-none.err"
	fi
}

bc_destroy() {
	if vfio-user-proxy bridge destroy "$BC_NAME" >"$BC_DIR/destroy.out" 2>&1 && bc_wait 10 test ! -e "$BC_SYSFS" &&
		! vfio-user-proxy bridge list | grep -q "^$BC_NAME "; then
		pass bridge.ctl.destroy
	else
		fail bridge.ctl.destroy "destroy $BC_NAME failed, or $BC_SYSFS or its row stayed:"
		dump "$BC_DIR/destroy.out"
	fi
	vfio-user-proxy bridge destroy "$BC_NAME" >"$BC_DIR/destroy2.err" 2>&1
	bc_rc=$?
	if [ "$bc_rc" -eq 1 ] && bc_one_line "$BC_DIR/destroy2.err" "no instance '$BC_NAME'"; then
		pass bridge.ctl.destroy-unknown
	else
		fail bridge.ctl.destroy-unknown "exit $bc_rc (want 1 and one line naming it):"
		dump "$BC_DIR/destroy2.err"
	fi
}

bc_events_check() {
	# the --count 1 --json listener ended by itself on the first event
	if bc_wait 10 bc_gone "$BC_PID_one" && wait "$BC_PID_one" &&
		[ "$(cat "$BC_DIR/one.out")" = "{\"event\":\"created\",\"name\":\"$BC_NAME\",\"uuid\":\"$BC_UUID\"}" ]; then
		pass bridge.ctl.events-count-json
	else
		fail bridge.ctl.events-count-json "events --count 1 --json did not print the create as one JSON line and exit 0:"
		dump "$BC_DIR/one.out"
		kill "$BC_PID_one" 2>/dev/null
	fi
	bc_want="created destroyed"
	[ "$BC_CLIENT" = 1 ] && bc_want="created opened reset closed destroyed"
	bc_wait 5 bc_has "$BC_DIR/all.out" "^destroyed "
	kill -TERM "$BC_PID_all" 2>/dev/null
	wait "$BC_PID_all"
	bc_rc=$?
	bc_missing=
	for e in $bc_want; do
		grep -q "^$e $BC_NAME $BC_UUID\$" "$BC_DIR/all.out" || bc_missing="$bc_missing $e"
	done
	if [ "$bc_rc" -eq 0 ] && [ -z "$bc_missing" ] && [ "$(head -n 1 "$BC_DIR/all.out")" = "created $BC_NAME $BC_UUID" ] &&
		[ "$(tail -n 1 "$BC_DIR/all.out")" = "destroyed $BC_NAME $BC_UUID" ]; then
		pass bridge.ctl.events
	else
		fail bridge.ctl.events "exit $bc_rc after SIGTERM (want 0), missing:${bc_missing:- none}, or out of order:"
		dump "$BC_DIR/all.out"
	fi
}

bridge_ctl_checks() {
	rm -rf "$BC_DIR"
	mkdir -p "$BC_DIR"
	BC_CLIENT=0
	BC_PID_all='' BC_PID_one=''
	bc_events_start all && BC_PID_all=$BC_PID && bc_events_start one --count 1 --json
	bc_rc=$?
	BC_PID_one=$BC_PID
	if [ "$bc_rc" -ne 0 ]; then
		fail bridge.ctl.events-listen "bridge events did not join the group within 10 s:"
		dump "$BC_DIR/all.err"
		dump "$BC_DIR/one.err"
		kill "$BC_PID_all" "$BC_PID_one" 2>/dev/null
		return 0
	fi
	if ! bc_create; then
		kill "$BC_PID_all" "$BC_PID_one" 2>/dev/null
		return 0
	fi
	bc_list
	bc_basic_client && BC_CLIENT=1
	bc_faults
	bc_destroy
	bc_events_check
}
