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

finish() {
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
