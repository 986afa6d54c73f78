#!/usr/bin/env bash
# tests/interop/run.sh: QEMU's vfio-user-pci (Debian sid's QEMU) against the proxy's emulated edu device: a handshake without a guest, then guest runs (RAM shared, RAM not shared, a reboot, SIGKILL and a second QEMU, 20 hand-overs under a guest checking in a loop); one PASS/FAIL line per check, and the figures.
#
# Usage: tests/interop/run.sh --proxy PROXY [--out DIR] [SCENARIO...]
#   SCENARIO  handshake, shared, private, reboot, kill, handover-shared, handover-private (default: all,
#             in that order)
#   --out     logs, the guest module and initramfs (default build/interop/run)
# Environment: VUP_CACHE (cache of QEMU, kernel and headers; default /var/cache/vfio-user-proxy),
#   INTEROP_TIMEOUT (seconds for one guest boot to report; default 300), INTEROP_QEMU_ARGS (extra QEMU
#   options for a diagnosis, e.g. "-trace vfio_user_* -D /tmp/trace.log").
# Needs root once for the packages it installs when missing (busybox-static, cpio, kmod); QEMU, the
# guest kernel and its headers come from Debian's archive into the cache, never onto the host.
# Fails on any FAIL line, a missing result, a timeout, a kernel WARNING/BUG/Oops in the guest, a
# warning or error in the proxy's log, and on ANY line QEMU prints (stderr or stdout).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PROXY=
OUT=$top/build/interop/run
SCENARIOS=()
TIMEOUT=${INTEROP_TIMEOUT:-300}

while [ $# -gt 0 ]; do
	case "$1" in
	--proxy) PROXY=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	handshake | shared | private | reboot | kill | handover-shared | handover-private) SCENARIOS+=("$1"); shift ;;
	*) echo "usage: $0 --proxy PROXY [--out DIR] [handshake|shared|private|reboot|kill|handover-shared|handover-private]..." >&2; exit 2 ;;
	esac
done
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(handshake shared private reboot kill handover-shared handover-private)
[ -x "$PROXY" ] || { echo "run.sh: --proxy PROXY (an executable vfio-user-proxy) is required" >&2; exit 2; }
PROXY=$(readlink -f "$PROXY")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/*.console "$OUT"/*.qemu-output "$OUT"/*.proxy-log "$OUT"/results "$OUT"/measurements

# ---- bookkeeping: processes, temp dir, results ----

T=$(mktemp -d /tmp/vup-interop.XXXXXX) # short: socket paths must fit in 108 bytes
PIDS=()
cleanup() {
	local pid i
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=(${keep[@]+"${keep[@]}"})
}

RESULTS=$OUT/results
: >"$RESULTS"
pass() { echo "PASS $1" | tee -a "$RESULTS"; }
fail() { echo "FAIL $1: $2" | tee -a "$RESULTS"; }
info() { echo "INFO $*"; }
# Indents a file for a diagnosis after a failure (the last lines when it is long).
dump() { tail -n "${2:-40}" "$1" | sed 's/^/    | /'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The figures, then the closing line; the exit status says whether anything failed.
finish() {
	local p f
	echo "== figures (guest-side, printed, not judged)"
	[ ! -s "$OUT/measurements" ] || sed 's/^/  /' "$OUT/measurements"
	info "logs in $OUT; total $(since "$t0") s"
	p=$(grep -c '^PASS ' "$RESULTS" || true)
	f=$(grep -c '^FAIL ' "$RESULTS" || true)
	echo "interop: $p passed, $f failed"
	[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
	exit
}

# ---- preparation: packages, QEMU, kernel, headers, module, initramfs ----

t0=$(now)
"$top/scripts/deps.sh" busybox-static cpio kmod libelf1 >/dev/null
QEMU=$("$here/qemu-root.sh")
info "QEMU: $("$QEMU" --version | head -n 1) ($QEMU)"
KENTRY=$("$top/tests/vm/kernel.sh" bookworm)
KRELEASE=$(cat "$KENTRY/release")
HEADERS=$("$here/kheaders.sh" "$KENTRY")
info "guest kernel $KRELEASE ($(tr '\n' ' ' <"$KENTRY/package"))"
info "prepared QEMU, kernel and headers in $(since "$t0") s"

t1=$(now)
MOD=$OUT/module
rm -rf "$MOD"
mkdir -p "$MOD"
cp "$here"/guest/*.[ch] "$here/guest/Kbuild" "$MOD/"
# BTF needs the kernel's vmlinux, which the headers do not ship: skip it instead of printing so.
# A make of our own (not the caller's jobserver, which would warn when run.sh is a recipe of make -j).
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$HEADERS" M="$MOD" EDU_INCLUDE="$top/include" CONFIG_DEBUG_INFO_BTF_MODULES= modules \
	>"$MOD/build.log" 2>&1 && ! grep -qiE 'warning|error' "$MOD/build.log"; then
	pass module_build
else
	fail module_build "edu_test.ko did not build cleanly against $KRELEASE's headers"
	dump "$MOD/build.log"
	finish
fi

# The initramfs: busybox, /init and the module; an uncompressed newc cpio.
INITRD=$OUT/initramfs.cpio
stage=$T/initramfs
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,lib/modules,dev,proc,sys,tmp}
if ldd /bin/busybox >/dev/null 2>&1; then
	fail initramfs "/bin/busybox is dynamically linked: the guest needs busybox-static"
	finish
fi
cp /bin/busybox "$stage/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
install -m 0755 "$here/guest/init" "$stage/init"
cp "$MOD/edu_test.ko" "$stage/lib/modules/"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$INITRD"
rm -rf "$stage"
info "built the guest module and initramfs in $(since "$t1") s"

# ---- the proxy ----

PROXY_PID=
REAPER_PID=
EXITS=
SOCK=
PROXY_LOG=
# start_proxy NAME: the emulated device on $T/NAME.sock, logging at debug level, with INTEROP_PROXY_ARGS.
# Its parent is reap.pl, a child subreaper: a hand-over's successor (confined: started by the old
# process's helper, orphaned when that helper exits) comes back to it, and it records in $EXITS how
# every process of the proxy ended. PROXY_PID is the process serving now (hand_over follows it).
start_proxy() {
	local i
	SOCK=$T/$1.sock
	PROXY_LOG=$OUT/$1.proxy-log
	EXITS=$T/$1.exits
	PROXY_PID=
	# shellcheck disable=SC2086 # INTEROP_PROXY_ARGS is a list of options
	"$here/reap.pl" "$EXITS" "$PROXY" --log-level debug emulate --socket-path "$SOCK" ${INTEROP_PROXY_ARGS:-} >"$PROXY_LOG" 2>&1 &
	REAPER_PID=$!
	PIDS+=("$REAPER_PID")
	for ((i = 0; i < 100; i++)); do
		[ -n "$PROXY_PID" ] || PROXY_PID=$(awk '$1 == "start" { print $2 }' "$EXITS" 2>/dev/null || true)
		[ -z "$PROXY_PID" ] || [ ! -S "$SOCK" ] || { PIDS+=("$PROXY_PID"); return 0; }
		kill -0 "$REAPER_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "$1.proxy_start" "no socket $SOCK after 10 s"
	dump "$PROXY_LOG"
	return 1
}

# exit_status PID: how a process of the proxy ended, as reap.pl saw it (empty while it runs).
exit_status() { awk -v p="$1" '$1 == "exit" && $2 == p { print $3 }' "$EXITS"; }

# What a client could leak in the proxy: open fds, and mappings of memfds (its own RAM BAR, guest RAM).
proxy_state() {
	local fds maps
	fds=$(find "/proc/$PROXY_PID/fd" -mindepth 1 2>/dev/null | wc -l)
	maps=$(grep -c 'memfd:' "/proc/$PROXY_PID/maps" 2>/dev/null || true)
	echo "fds=$fds memfd_maps=$maps"
}

# wait_proxy_log PATTERN SECONDS
wait_proxy_log() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -q -- "$1" "$PROXY_LOG" && return 0
		sleep 0.1
	done
	return 1
}

# check_client_gone SCEN N BASELINE: the proxy noticed client N leave and holds nothing of it.
check_client_gone() {
	local state
	if wait_proxy_log "client $2 gone" 15; then
		pass "$1.proxy_client_gone"
	else
		fail "$1.proxy_client_gone" "the proxy did not log 'client $2 gone' within 15 s"
		return 0
	fi
	state=$(proxy_state)
	if [ "$state" = "$3" ]; then
		pass "$1.proxy_no_leak"
	else
		fail "$1.proxy_no_leak" "proxy holds $state after client $2, $3 before any client"
		find "/proc/$PROXY_PID/fd" -mindepth 1 -printf '%f -> %l\n' | sed 's/^/    | /'
	fi
}

# stop_proxy SCEN: SIGTERM; exit 0 (and so every other process of it: helpers, predecessors), socket
# removed, no warning or error in its log.
stop_proxy() {
	local rc others
	kill -TERM "$PROXY_PID" 2>/dev/null || true
	wait "$REAPER_PID" || true # it ends with the last process of the proxy
	forget_pid "$REAPER_PID"
	forget_pid "$PROXY_PID"
	rc=$(exit_status "$PROXY_PID")
	others=$(awk -v p="$PROXY_PID" '$1 == "exit" && $2 != p && $3 != 0 { printf " pid %s: %s;", $2, $3 }' "$EXITS")
	if [ "$rc" = 0 ] && [ -z "$others" ] && [ ! -e "$SOCK" ]; then
		pass "$1.proxy_exit"
	else
		fail "$1.proxy_exit" "exit status ${rc:-unknown} after SIGTERM, socket $([ -e "$SOCK" ] && echo left behind || echo removed)${others:+; other processes of it exited non-zero:$others}"
	fi
	if grep -E ' (warn|error): ' "$PROXY_LOG" >"$T/proxy-complaints"; then
		fail "$1.proxy_log" "the proxy warned or failed:"
		dump "$T/proxy-complaints"
	else
		pass "$1.proxy_log"
	fi
}

# ---- QEMU ----

QEMU_PID=
CAT_PID=
CON_FD=
CONSOLE=
QERR=
# Options every QEMU here gets: q35, TCG, no default devices, the device behind a PCIe root port.
# shellcheck disable=SC2054 # commas inside QEMU option values
qemu_common() {
	local ram=$1
	QARGS=(-machine q35 -accel tcg -smp 1 -m 512M -nodefaults -no-user-config -display none -monitor none
		-device pcie-root-port,id=rp0,chassis=1
		-device "{\"driver\":\"vfio-user-pci\",\"bus\":\"rp0\",\"socket\":{\"path\":\"$SOCK\",\"type\":\"unix\"}}")
	# shellcheck disable=SC2206 # split on purpose: a diagnosis hook
	[ -z "${INTEROP_QEMU_ARGS:-}" ] || QARGS+=($INTEROP_QEMU_ARGS)
	if [ "$ram" = shared ]; then
		QARGS+=(-object memory-backend-memfd,id=mem,size=512M,share=on -machine memory-backend=mem)
	fi
}

# boot NAME RAM(shared|private) REBOOT(reboot|no-reboot) [KERNEL ARGS]: a guest whose serial console
# is a pipe pair: its output goes to $OUT/NAME.console, CON_FD writes to its input.
boot() {
	local name=$1 ram=$2 reboot=$3 extra=${4:-} dir=$T/$1
	mkdir -p "$dir"
	mkfifo "$dir/con.in" "$dir/con.out"
	CONSOLE=$OUT/$name.console
	QERR=$OUT/$name.qemu-output
	cat "$dir/con.out" >"$CONSOLE" &
	CAT_PID=$!
	PIDS+=("$CAT_PID")
	qemu_common "$ram"
	[ "$reboot" = reboot ] || QARGS+=(-no-reboot)
	"$QEMU" "${QARGS[@]}" -chardev "pipe,id=con,path=$dir/con" -serial chardev:con \
		-kernel "$KENTRY/vmlinuz" -initrd "$INITRD" -append "console=ttyS0 panic=-1 $extra" \
		</dev/null >"$QERR" 2>&1 &
	QEMU_PID=$!
	PIDS+=("$QEMU_PID")
	exec {CON_FD}<>"$dir/con.in"
	BOOT_T0=$(now)
}

# wait_console PATTERN COUNT SECONDS: until COUNT console lines match; 1 on timeout, 2 if QEMU exited.
wait_console() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(grep -c -- "$1" "$CONSOLE" || true)" -ge "$2" ] && return 0
		kill -0 "$QEMU_PID" 2>/dev/null || { sleep 0.5; [ "$(grep -c -- "$1" "$CONSOLE" || true)" -ge "$2" ] && return 0; return 2; }
		sleep 0.2
	done
	return 1
}

# say WORD: one command line to the guest's /init.
say() { printf '%s\n' "$1" >&"$CON_FD"; }

# qemu_end SCEN [SIGNAL]: waits for QEMU to exit (after poweroff), or kills it with SIGNAL; checks stderr.
qemu_end() {
	local scen=$1 sig=${2:-} rc=0 i
	if [ -n "$sig" ]; then
		kill "-$sig" "$QEMU_PID" 2>/dev/null || true
	else
		for ((i = 0; i < 600; i++)); do
			kill -0 "$QEMU_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$QEMU_PID" 2>/dev/null; then
			fail "$scen.qemu_exit" "QEMU still running 60 s after the guest was told to power off"
			kill -KILL "$QEMU_PID"
		fi
	fi
	{ wait "$QEMU_PID"; } 2>/dev/null || rc=$? # no "Killed" notice from bash
	forget_pid "$QEMU_PID"
	exec {CON_FD}>&-
	if [ -n "$CAT_PID" ]; then
		# the console reader ends with QEMU's end of the pipe
		for ((i = 0; i < 50; i++)); do
			kill -0 "$CAT_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -TERM "$CAT_PID" 2>/dev/null || true
		wait "$CAT_PID" 2>/dev/null || true
		forget_pid "$CAT_PID"
		CAT_PID=
	fi
	if [ -z "$sig" ]; then
		if [ "$rc" -eq 0 ]; then pass "$scen.qemu_exit"; else fail "$scen.qemu_exit" "QEMU exited with $rc"; fi
	fi
	# Every line QEMU prints (stderr or stdout) is a finding: nothing is filtered.
	if [ -s "$QERR" ]; then
		fail "$scen.qemu_silent" "QEMU printed $(wc -l <"$QERR") line(s):"
		dump "$QERR"
	else
		pass "$scen.qemu_silent"
	fi
}

# ---- reading a guest's results ----

INIT_CHECKS=(sysfs_present sysfs_ids sysfs_bars sysfs_config)
MODULE_CHECKS=(config_ids config_bars config_caps config_devcap bar0_id bar0_liveness bar0_factorial bar0_dma_buffer bar4_ram
	dma_4k_round_trip dma_unaligned dma_refused irq_msi irq_msix irq_intx)
AFTER_CHECKS=(module_load module_bound)

# The console of boot number N (1-based), kernel timestamps and the module's prefix removed.
boot_section() {
	awk -v n="$2" '/INFO guest / { b++ } b == n || (n == 1 && b == 0)' "$1" |
		tr -d '\r' | sed -E 's/^\[ *[0-9]+\.[0-9]+\] //; s/^edu_test: //'
}

# results SCEN CONSOLE BOOT EXPECTED...: one PASS/FAIL per expected check of that boot.
results() {
	local scen=$1 console=$2 n=$3 sec name line
	shift 3
	sec=$T/section
	boot_section "$console" "$n" >"$sec"
	for name in "$@"; do
		line=$(grep -m1 -E "^(PASS|FAIL) $name(:|$)" "$sec" || true)
		case "$line" in
		"PASS $name") pass "$scen.$name" ;;
		"FAIL $name"*) fail "$scen.$name" "${line#FAIL "$name": }" ;;
		*) fail "$scen.$name" "no result in the guest's console (boot $n)" ;;
		esac
	done
	# a FAIL outside the expected list (the module's setup, say) counts too
	{ grep -E '^FAIL ' "$sec" || true; } | while read -r _ name rest; do
		name=${name%:}
		printf '%s\n' "$@" | grep -qx -- "$name" || fail "$scen.$name" "$rest"
	done
	grep -E '^MEASURE ' "$sec" | sed "s/^MEASURE /$scen: /" >>"$OUT/measurements" || true
}

# kernel_clean SCEN CONSOLE: no warning, bug or oops in the guest kernel's log.
kernel_clean() {
	if grep -nE 'WARNING:|BUG:|Oops|general protection fault|Kernel panic|Call Trace|nobody cared|soft lockup|blocked for more than|rcu_.*stall|Unable to handle' \
		"$2" >"$T/kernel-complaints"; then
		fail "$1.guest_kernel_clean" "the guest kernel complained:"
		dump "$T/kernel-complaints"
	else
		pass "$1.guest_kernel_clean"
	fi
}

# one_boot SCEN NAME RAM [WHILE_UP [CHECK...]]: a guest that runs the checks once, then (if given) the
# function WHILE_UP SCEN while it waits for commands, and powers off; CHECKs are more expected results.
one_boot() {
	local scen=$1 name=$2 ram=$3 while_up=${4:-} r=0
	shift $(($# < 4 ? $# : 4))
	boot "$name" "$ram" no-reboot
	wait_console GUEST-READY 1 "$TIMEOUT" || r=$?
	if [ "$r" -eq 0 ]; then
		info "$name: guest reported after $(since "$BOOT_T0") s"
		[ -z "$while_up" ] || "$while_up" "$scen"
		say poweroff
	else
		fail "$scen.guest_ready" "$([ "$r" -eq 1 ] && echo "no GUEST-READY within $TIMEOUT s" || echo "QEMU exited before GUEST-READY")"
		dump "$CONSOLE" 30
		kill -KILL "$QEMU_PID" 2>/dev/null || true
	fi
	qemu_end "$scen"
	results "$scen" "$CONSOLE" 1 "${INIT_CHECKS[@]}" "${MODULE_CHECKS[@]}" "${AFTER_CHECKS[@]}" "$@"
	kernel_clean "$scen" "$CONSOLE"
}

# ---- the scenarios ----

# bars_placed INFO_PCI: the device's three BARs, of the right kind and size, placed by the firmware.
bars_placed() {
	local dev want bar kind size line start end
	dev=$(awk '/PCI device 1234:11e8/ { d = 1; next } d && /^  Bus/ { d = 0 } d' <<<"$1")
	for want in "0|32 bit memory|1048576" "2|32 bit memory|4096" "4|64 bit prefetchable memory|1048576"; do
		IFS='|' read -r bar kind size <<<"$want"
		line=$(grep -E "^ *BAR$bar: $kind at 0x[0-9a-f]+ \[0x[0-9a-f]+\]" <<<"$dev") || return 1
		start=$(sed -E 's/.* at (0x[0-9a-f]+) .*/\1/' <<<"$line")
		end=$(sed -E 's/.*\[(0x[0-9a-f]+)\].*/\1/' <<<"$line")
		[ "$start" != 0xffffffffffffffff ] && [ $((end - start + 1)) -eq "$size" ] || return 1
	done
}

# No guest: the device realizes (VERSION, DMA_MAP, GET_INFO, GET_REGION_INFO, GET_IRQ_INFO, config
# space, SET_IRQS, DEVICE_RESET), SeaBIOS sizes and places its BARs, QEMU says nothing.
scenario_handshake() {
	local base out i qmp=$T/qmp.sock
	start_proxy handshake || return 0
	base=$(proxy_state)
	QERR=$OUT/handshake.qemu-output
	qemu_common shared
	"$QEMU" "${QARGS[@]}" -serial none -qmp "unix:$qmp,server=on,wait=off" </dev/null >"$QERR" 2>&1 &
	QEMU_PID=$!
	PIDS+=("$QEMU_PID")
	CON_FD=
	exec {CON_FD}>/dev/null
	for ((i = 0; i < 100; i++)); do
		[ -S "$qmp" ] && break
		sleep 0.1
	done
	# SeaBIOS places the BARs within a few seconds
	out=
	for ((i = 0; i < 60; i++)); do
		out=$("$here/hmp.pl" "$qmp" "info pci" 2>&1) || break
		bars_placed "$out" && break
		sleep 0.5
	done
	printf '%s\n' "$out" >"$OUT/handshake.info-pci"
	if grep -q 'PCI device 1234:11e8' <<<"$out" && grep -q 'PCI subsystem 1af4:1100' <<<"$out"; then
		pass handshake.info_pci_ids
	else
		fail handshake.info_pci_ids "info pci has no 1234:11e8 with subsystem 1af4:1100"
		dump "$OUT/handshake.info-pci"
	fi
	if bars_placed "$out"; then
		pass handshake.info_pci_bars
	else
		fail handshake.info_pci_bars "BAR0 (1 MiB), BAR2 (4 KiB), BAR4 (1 MiB, 64-bit prefetchable) not all placed"
		dump "$OUT/handshake.info-pci"
	fi
	if grep -q 'client speaks vfio-user 0.0' "$PROXY_LOG" && grep -qE 'DMA window .* rw mapped' "$PROXY_LOG"; then
		pass handshake.version_and_dma_fds
	else
		fail handshake.version_and_dma_fds "no VERSION 0.0 or no fd-backed DMA window in the proxy's log"
		dump "$PROXY_LOG"
	fi
	"$here/hmp.pl" "$qmp" quit >/dev/null 2>&1 || true
	qemu_end handshake
	check_client_gone handshake 1 "$base"
	stop_proxy handshake
}

scenario_shared() {
	local base
	start_proxy shared || return 0
	base=$(proxy_state)
	one_boot shared shared shared
	check_client_gone shared 1 "$base"
	stop_proxy shared
}

# windows_without_fds SCEN: guest RAM not shared: every DMA window QEMU mapped came without an fd.
windows_without_fds() {
	if grep -qE 'DMA window .* rw via messages' "$PROXY_LOG" && ! grep -qE 'DMA window .* rw mapped' "$PROXY_LOG"; then
		pass "$1.dma_windows_without_fds"
	else
		fail "$1.dma_windows_without_fds" "expected guest RAM windows without fds only"
	fi
}

# RAM not shared: QEMU sends DMA_MAP without fds; the device's DMA goes through DMA_READ/DMA_WRITE.
scenario_private() {
	local base
	start_proxy private || return 0
	base=$(proxy_state)
	one_boot private private private
	windows_without_fds private
	check_client_gone private 1 "$base"
	stop_proxy private
}

# A guest reboot: QEMU resets the device (DEVICE_RESET) and the checks pass again on the second boot
# (bar4_ram then also proves the reset: the RAM BAR is fresh again).
scenario_reboot() {
	local base r=0
	start_proxy reboot || return 0
	base=$(proxy_state)
	boot reboot shared reboot
	if wait_console GUEST-READY 1 "$TIMEOUT"; then
		info "reboot: first boot reported after $(since "$BOOT_T0") s"
		say reboot
		wait_console GUEST-READY 2 "$TIMEOUT" || r=$?
		if [ "$r" -eq 0 ]; then
			info "reboot: second boot reported after $(since "$BOOT_T0") s"
			pass reboot.second_boot
		else
			fail reboot.second_boot "no second GUEST-READY within $TIMEOUT s"
			dump "$CONSOLE" 30
		fi
	else
		fail reboot.guest_ready "no GUEST-READY from the first boot"
		dump "$CONSOLE" 30
	fi
	say poweroff
	qemu_end reboot
	if [ "$(grep -c 'INFO guest ' "$CONSOLE" || true)" -eq 2 ]; then
		pass reboot.two_boots
	else
		fail reboot.two_boots "$(grep -c 'INFO guest ' "$CONSOLE" || true) boots, expected 2"
	fi
	results reboot.boot1 "$CONSOLE" 1 "${INIT_CHECKS[@]}" "${MODULE_CHECKS[@]}" "${AFTER_CHECKS[@]}"
	results reboot.boot2 "$CONSOLE" 2 "${INIT_CHECKS[@]}" "${MODULE_CHECKS[@]}" "${AFTER_CHECKS[@]}"
	kernel_clean reboot "$CONSOLE"
	check_client_gone reboot 1 "$base"
	stop_proxy reboot
}

# SIGKILL: the first QEMU (RAM not shared, so DMA_READ/DMA_WRITE are in flight) dies while the device
# runs DMA with MSI-X; a second QEMU on the same proxy must find a fresh device and pass everything.
scenario_kill() {
	local base r=0
	start_proxy kill || return 0
	base=$(proxy_state)
	boot kill.first private no-reboot interop.hold=1
	wait_console 'edu_test: HOLD busy' 1 "$TIMEOUT" || r=$?
	if [ "$r" -eq 0 ]; then
		sleep 2 # let it run some transfers
		pass kill.first_busy
	else
		fail kill.first_busy "the module never reported HOLD"
		dump "$CONSOLE" 30
	fi
	qemu_end kill.first KILL
	results kill.first "$CONSOLE" 1 "${INIT_CHECKS[@]}" "${MODULE_CHECKS[@]}"
	if grep -q 'HOLD transfer' "$CONSOLE"; then
		fail kill.first_busy_transfers "a transfer failed while busy:"
		grep 'HOLD transfer' "$CONSOLE" | dump /dev/stdin 10
	fi
	kernel_clean kill.first "$CONSOLE"
	check_client_gone kill.after_sigkill 1 "$base"
	one_boot kill.second kill.second shared
	check_client_gone kill.after_second 2 "$base"
	stop_proxy kill
}

# ---- hand-overs under a running guest ----

HANDOVERS=20
QUIET_ROUNDS=4
HANDOVER_CHECKS=(handover_rounds handover_state_kept handover_no_failure)
LOOP_DONE='LOOP round [0-9]* done'

# confined PID: the process runs under its seccomp filter (a hand-over then gives a new pid).
confined() { grep -qE '^Seccomp:[[:space:]]*2' "/proc/$1/status" 2>/dev/null; }

# count_in FILE PATTERN: how many lines of FILE match.
count_in() { grep -c -- "$2" "$1" || true; }

# hand_over N CONFINED(yes|no): SIGHUP number N, then the proxy's Nth "serving as pid" line names the
# successor: a new pid, confined too, the old one exited 0 (confined); the same pid (exec in place).
# PROXY_PID follows it; on failure WHY says what went wrong.
hand_over() {
	local n=$1 conf=$2 old=$PROXY_PID new i
	kill -HUP "$old"
	for ((i = 0; i < 300; i++)); do
		[ "$(count_in "$PROXY_LOG" 'hand-over: serving as pid ')" -lt "$n" ] || break
		sleep 0.1
	done
	new=$(grep -o 'hand-over: serving as pid [0-9]*' "$PROXY_LOG" | sed -n "${n}s/.* //p")
	if [ -z "$new" ]; then
		WHY="hand-over $n: no 'serving as pid' line within 30 s of SIGHUP to pid $old"
		return 1
	fi
	if [ "$conf" = no ]; then
		[ "$new" = "$old" ] || { WHY="hand-over $n: pid $new serves, not $old (exec in place)"; return 1; }
		return 0
	fi
	[ "$new" != "$old" ] || { WHY="hand-over $n: confined, yet pid $old serves on"; return 1; }
	PIDS+=("$new")
	PROXY_PID=$new
	confined "$new" || { WHY="hand-over $n: successor $new is not confined"; return 1; }
	for ((i = 0; i < 100; i++)); do
		[ -z "$(exit_status "$old")" ] || break
		sleep 0.1
	done
	forget_pid "$old"
	[ "$(exit_status "$old")" = 0 ] || { WHY="hand-over $n: pid $old exited with '$(exit_status "$old")', not 0"; return 1; }
}

# handover_loop SCEN: the guest's checks round after round; QUIET_ROUNDS without a hand-over, then
# HANDOVERS SIGHUPs, each followed to its successor and by a whole round of the guest, then a pause
# of 0 to 0.7 s (varied, so that they come at different points of a round); then the guest's verdicts.
handover_loop() {
	local scen=$1 conf=no n=0 chain=$PROXY_PID rounds
	WHY=
	confined "$PROXY_PID" && conf=yes
	info "$scen: the proxy $([ "$conf" = yes ] && echo "runs confined: every hand-over starts a new pid" || echo "is not confined: it execs in place")"
	say "loop start"
	if ! wait_console "$LOOP_DONE" "$QUIET_ROUNDS" 120; then
		WHY="the loop in the guest did not run $QUIET_ROUNDS rounds within 120 s"
	else
		say "loop mark"
		wait_console 'LOOP hand-overs from now on' 1 60 || WHY="the guest did not take the mark"
	fi
	while [ -z "$WHY" ] && [ "$n" -lt "$HANDOVERS" ]; do
		rounds=$(count_in "$CONSOLE" "$LOOP_DONE")
		hand_over $((n + 1)) "$conf" || break
		n=$((n + 1))
		[ "$conf" = no ] || chain="$chain $PROXY_PID"
		wait_console "$LOOP_DONE" $((rounds + 1)) 120 || WHY="no round of the guest ended within 120 s of hand-over $n"
		sleep "0.$((n * 3 % 8))"
	done
	say "loop stop $n"
	wait_console 'LOOP DONE' 1 120 || WHY=${WHY:-"the loop in the guest did not end within 120 s"}
	info "$scen: $n hand-overs, $(count_in "$CONSOLE" "$LOOP_DONE") rounds of the guest; pids $chain"
	if [ -z "$WHY" ] && [ "$n" -eq "$HANDOVERS" ] && [ "$(count_in "$PROXY_LOG" 'hand-over: serving as pid ')" -eq "$HANDOVERS" ]; then
		pass "$scen.handover_count"
	else
		fail "$scen.handover_count" "${WHY:-$n hand-overs of $HANDOVERS}; $(count_in "$PROXY_LOG" 'hand-over: serving as pid ') 'serving' lines"
		dump <(grep -E 'hand-over|warn|error' "$PROXY_LOG") 20
	fi
}

# handover_figures SCEN: the proxy's side of each hand-over, from its log (1 ms resolution): from the
# old process saving its state to the successor serving.
handover_figures() {
	local ms
	ms=$(awk '/ hand-over: [0-9]+ fds, / { t = $1 } / hand-over: serving as pid / && t { printf "%d\n", ($1 - t) * 1000 + 0.5; t = 0 }' "$PROXY_LOG" | sort -n)
	[ -n "$ms" ] || return 0
	awk -v s="$1" '{ v[NR] = $1 } END { printf "%s: handover_proxy_time %d ms median, %d ms max (%d hand-overs: the state saved to the successor serving, from the proxy log)\n", s, v[int((NR + 1) / 2)], v[NR], NR }' \
		<<<"$ms" >>"$OUT/measurements"
}

# The proxy started as in every scenario (confined unless INTEROP_PROXY_ARGS says otherwise) is
# handed over HANDOVERS times (SIGHUP) while the guest runs its checks in a loop: nothing fails, what
# the device keeps stays, QEMU sees nothing; the final successor holds no more than the first process
# did before its client, and exits 0 at SIGTERM.
scenario_handover() {
	local scen=handover-$1 base
	start_proxy "$scen" || return 0
	base=$(proxy_state)
	one_boot "$scen" "$scen" "$1" handover_loop "${HANDOVER_CHECKS[@]}"
	[ "$1" = shared ] || windows_without_fds "$scen"
	check_client_gone "$scen" 1 "$base"
	stop_proxy "$scen"
	handover_figures "$scen"
}
scenario_handover_shared() { scenario_handover shared; }
# guest RAM not shared: the device's DMA, and so the hand-over's wait for it, goes through messages
scenario_handover_private() { scenario_handover private; }

for s in "${SCENARIOS[@]}"; do
	ts=$(now)
	echo "== $s"
	"scenario_${s//-/_}"
	info "$s took $(since "$ts") s"
done

finish
