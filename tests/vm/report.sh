# tests/vm/report.sh: sourced by the guests' bench scripts (busybox /init, the systemd guest's vup-bench): the console protocol run.sh reads.
# shellcheck shell=sh
#
# One line per check, `PASS <name>`, `FAIL <name>: <why>` or `SKIP <name>: <why>`; `MEASURE <name> ...`
# and `INFO ...` lines for the reader; the kernel log between DMESG-BEGIN and DMESG-END; last
# `VM-RESULT <n> passed, <m> failed`. Then the guest powers off. Needs RESULTS (a file) set.
: "${RESULTS:?report.sh needs RESULTS}"

pass() { echo "PASS $1" | tee -a "$RESULTS"; }
fail() { echo "FAIL $1: $2" | tee -a "$RESULTS"; }
skip() { echo "SKIP $1: $2" | tee -a "$RESULTS"; }
# Prints a file's lines indented, for diagnosis after a failure.
dump() { sed 's/^/    | /' "$1"; }
# Milliseconds since boot.
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# kmemleak's report (kernels built with it: kernel-build.sh's): two scans, as kmemleak reports an
# object only once it has stayed unreferenced for a while (KMEMLEAK_WAIT seconds between them let what
# the last checks freed or leaked age past its 5 s minimum), then the list between the markers. Before
# the kernel log, which then has the scan's "N new suspected memory leaks" line.
KMEMLEAK_WAIT=${KMEMLEAK_WAIT:-5}
kmemleak_report() {
	kml=/sys/kernel/debug/kmemleak
	# debugfs where nothing mounted it yet (the busybox guest)
	if [ ! -e "$kml" ] && [ -d /sys/kernel/debug ] && [ -z "$(ls -A /sys/kernel/debug)" ] &&
		grep -qw debugfs /proc/filesystems; then
		mount -t debugfs debugfs /sys/kernel/debug || true
	fi
	[ -e "$kml" ] || return 0
	kml_t0=$(now_ms)
	echo scan >"$kml"
	sleep "$KMEMLEAK_WAIT"
	echo scan >"$kml"
	echo "INFO kmemleak: two scans $KMEMLEAK_WAIT s apart took $(($(now_ms) - kml_t0)) ms"
	echo "KMEMLEAK-BEGIN"
	cat "$kml"
	echo "KMEMLEAK-END"
}

finish() {
	kmemleak_report
	dmesg >/tmp/dmesg
	echo "DMESG-BEGIN"
	cat /tmp/dmesg
	echo "DMESG-END"
	echo "INFO done at $(cut -d' ' -f1 /proc/uptime) s"
	echo "VM-RESULT $(grep -c '^PASS ' "$RESULTS") passed, $(grep -c '^FAIL ' "$RESULTS") failed"
	sync
	poweroff -f
	sleep 10
}
