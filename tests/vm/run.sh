#!/usr/bin/env bash
# tests/vm/run.sh: the guest bench's host runner: per kernel, fetch or build it (cached), build the initramfs, boot QEMU with edu and nvme behind an IOMMU, collect and judge the console.
#
# usage: run.sh --proxy BIN --checks BIN --out DIR [--install DIR] [--debs DIR] [bookworm] [sid] [iommufd] [systemd] [pkg]
#   bookworm, sid  Debian's kernels (kernel.sh), no iommufd: export takes the legacy path by itself
#   iommufd        the 6.12 kernel built with iommufd and the VFIO cdev (kernel-build.sh), booted twice:
#                  once with export forced to the legacy path, once on iommufd (vup_iommu= on the command line)
#   systemd        Debian 12's kernel booting Debian 12's systemd and udevd (sysroot.sh), the project as
#                  `make install` put it in --install DIR (systemd-initrd.sh, systemd-checks.sh)
#   pkg            the same with DKMS, the toolchain and the kernel's headers in the root (sysroot.sh --dev):
#                  the Debian packages in --debs DIR installed with apt-get and purged (pkg-checks.sh)
#        run.sh --judge CONSOLE_LOG [QEMU_EXIT_STATUS]   (judge a saved console log again)
# Environment: VM_TIMEOUT (seconds per boot, default 420; a boot takes 15-20 s), VUP_CACHE (see kernel.sh), QEMU (binary),
# VM_VERBOSE=1 (print the whole console log).
# Per kernel the console goes to DIR/console-<suite>.log. A boot fails on: any FAIL line, a missing or
# disagreeing VM-RESULT line, a timeout, QEMU exiting non-zero, a kernel WARNING/BUG/Oops/Call Trace, a
# lockdep or RCU report (KERNEL_REPORTS below), or a leak kmemleak reports (its KMEMLEAK-BEGIN/END section).
# Prints every check line prefixed with the kernel, the measurements, a summary per kernel and last
# "vm-tests: N passed, M failed" (", K skipped" when some were); exits non-zero when M > 0.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
proxy='' checks='' out='' install='' debs='' judge_log='' judge_rc=0
suites=()
while [ $# -gt 0 ]; do
	case "$1" in
	--judge) judge_log=$2 judge_rc=${3:-0} && break ;;
	--proxy) proxy=$2 && shift 2 ;;
	--checks) checks=$2 && shift 2 ;;
	--out) out=$2 && shift 2 ;;
	--install) install=$2 && shift 2 ;;
	--debs) debs=$2 && shift 2 ;;
	bookworm | sid | iommufd | systemd | pkg) suites+=("$1") && shift ;;
	*)
		echo "usage: $0 --proxy BIN --checks BIN --out DIR [--install DIR] [--debs DIR] [bookworm] [sid] [iommufd] [systemd] [pkg]" >&2
		exit 2
		;;
	esac
done
[ -n "$judge_log" ] || { [ -n "$proxy" ] && [ -n "$checks" ] && [ -n "$out" ]; } || {
	echo "usage: $0 --proxy BIN --checks BIN --out DIR [bookworm] [sid] [iommufd] | --judge LOG [QEMU_EXIT_STATUS]" >&2
	exit 2
}
[ ${#suites[@]} -gt 0 ] || suites=(bookworm sid iommufd systemd pkg)
VM_TIMEOUT=${VM_TIMEOUT:-420}
QEMU=${QEMU:-qemu-system-x86_64}

total_pass=0 total_fail=0 total_skip=0
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Kernel lines that fail a boot: warnings, and what lockdep (circular, recursive, inconsistent lock
# state, its DEBUG_LOCKS_WARN_ON and "INFO: ..." lines), RCU, might_sleep and kmemleak report.
KERNEL_REPORTS='WARNING|BUG|Oops|Call Trace|possible circular locking dependency|possible recursive locking'
KERNEL_REPORTS+='|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context'
KERNEL_REPORTS+='|DEBUG_LOCKS_WARN_ON|INFO: |kmemleak: [0-9]+ new suspected memory leak|kmemleak: .*disabled'

# judge SUITE LOG QEMU_RC KERNEL_LABEL: prints the verdict lines and adds to the totals.
judge() {
	local suite=$1 log=$2 rc=$3 k=$4 p f s result want_p want_f
	local clean=$log.txt
	tr -d '\r' <"$log" >"$clean"
	# the check lines, outside the kernel log
	awk '/^(DMESG|KMEMLEAK)-BEGIN$/ { d = 1 } /^(DMESG|KMEMLEAK)-END$/ { d = 0; next } !d && /^(PASS|FAIL|SKIP) / { print }' "$clean" \
		>"$clean.checks"
	sed -E "s#^(PASS|FAIL|SKIP) #\1 $k/#" "$clean.checks"
	grep "^MEASURE " "$clean" | sed "s#^MEASURE #MEASURE $k/#" || true
	p=$(grep -c '^PASS ' "$clean.checks" || true)
	f=$(grep -c '^FAIL ' "$clean.checks" || true)
	s=$(grep -c '^SKIP ' "$clean.checks" || true)
	# the bench's own verdicts on the boot
	if [ "$rc" -eq 124 ]; then
		echo "FAIL $k/boot: no result within VM_TIMEOUT=$VM_TIMEOUT s (QEMU killed); console in $log"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ]; then
		echo "FAIL $k/boot: QEMU exited with $rc; console in $log"
		f=$((f + 1))
	fi
	result=$(grep '^VM-RESULT ' "$clean" || true)
	if [ -z "$result" ]; then
		echo "FAIL $k/vm-result: no VM-RESULT line (the guest did not finish); console in $log"
		f=$((f + 1))
	else
		read -r _ want_p _ want_f _ <<<"${result//,/}"
		if [ "$(wc -l <<<"$result")" -ne 1 ] || [ "$want_p" != "$p" ] || [ "$want_f" != "$((f))" ]; then
			echo "FAIL $k/vm-result: guest says '$result', console shows $p passed, $f failed"
			f=$((f + 1))
		else
			echo "PASS $k/vm-result"
			p=$((p + 1))
		fi
	fi
	# kernel lines (timestamped, on the console or in the dmesg dump) must carry no warning
	if grep -E '^(<[0-9]+>)?\[ *[0-9]+\.[0-9]+\]' "$clean" | grep -E "$KERNEL_REPORTS" >"$clean.kwarn"; then
		echo "FAIL $k/kernel-log: $(wc -l <"$clean.kwarn") warning line(s), first: $(head -n 1 "$clean.kwarn")"
		f=$((f + 1))
	else
		echo "PASS $k/kernel-log"
		p=$((p + 1))
	fi
	# kmemleak's list after the guest's scans (report.sh), required where the kernel log says it runs
	awk '/^KMEMLEAK-BEGIN$/ { d = 1; n++; next } /^KMEMLEAK-END$/ { d = 0; e++ } d { print }
		END { if (n != 1 || e != 1) print "MARKERS " n + 0 " " e + 0 }' "$clean" >"$clean.kml"
	if grep -q '^MARKERS 0 0$' "$clean.kml"; then
		if grep -q 'kmemleak: Kernel memory leak detector initialized' "$clean"; then
			echo "FAIL $k/kmemleak: the kernel runs kmemleak but the console has no KMEMLEAK-BEGIN/END report"
			f=$((f + 1))
		fi
	elif grep -q '^MARKERS ' "$clean.kml"; then
		echo "FAIL $k/kmemleak: not exactly one KMEMLEAK-BEGIN/END report (the guest stopped in it?)"
		f=$((f + 1))
	elif grep -q '^unreferenced object' "$clean.kml"; then
		echo "FAIL $k/kmemleak: $(grep -c '^unreferenced object' "$clean.kml") leak(s) reported, first:" \
			"$(grep -m 1 '^unreferenced object' "$clean.kml"); console in $log"
		f=$((f + 1))
	else
		echo "PASS $k/kmemleak"
		p=$((p + 1))
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	rm -f "$clean.checks" "$clean.kwarn" "$clean.kml"
	LAST_PASS=$p LAST_FAIL=$f LAST_SKIP=$s
}

if [ -n "$judge_log" ]; then
	judge saved "$judge_log" "$judge_rc" saved
	echo "vm-tests: $total_pass passed, $total_fail failed"
	[ "$total_fail" -eq 0 ]
	exit
fi

# bridge_module ENTRY DIR: the bridge module built for ENTRY's kernel (module-build.sh, else make module
# against Debian's headers), its path printed; nothing when it cannot be built (the guest skips its checks).
bridge_module() {
	local ko
	if [ -x "$here/module-build.sh" ]; then
		ko=$("$here/module-build.sh" "$1" "$2" 2>"$2.log" | grep '/vup_bridge\.ko$' | head -n 1) || true
	elif [ "$(cat "$1/suite" 2>/dev/null || echo bookworm)" = bookworm ]; then
		ko=$(make -s -C "$here/../.." module KDIR="$("$here/../interop/kheaders.sh" "$1")" BUILD="$2" 2>"$2.log" |
			tail -n 1) || true
	fi
	if [ -n "${ko:-}" ] && [ -f "$ko" ]; then echo "$ko"; else echo "vm-tests: no bridge module for $(cat "$1/release") (log: $2.log)" >&2; fi
}

# boot SUITE KERNEL_ENTRY LABEL IOMMU: one guest boot and its verdict; IOMMU (legacy, iommufd or empty)
# goes on the kernel command line for the guest's /init.
boot() {
	local suite=$1 entry=$2 k=$3 iommu=$4 t0=$5 release initrd img log t1 t2 rc append name mem=1024M
	local limit=$VM_TIMEOUT
	release=$(cat "$entry/release")
	name=$suite${iommu:+-$iommu}
	initrd=$out/initramfs-$suite.cpio
	append="console=ttyS0 intel_iommu=on panic=-1 quiet"
	if [ "$suite" = systemd ]; then
		[ -n "$install" ] || { echo "run.sh: the systemd suite needs --install DIR" >&2; exit 2; }
		sysroot=$("$here/sysroot.sh")
		"$here/systemd-initrd.sh" "$sysroot" "$entry" "$install" "$checks" "$initrd"
		append="$append systemd.show_status=0 systemd.log_level=warning"
	elif [ "$suite" = pkg ]; then
		[ -n "$debs" ] || { echo "run.sh: the pkg suite needs --debs DIR" >&2; exit 2; }
		sysroot=$("$here/sysroot.sh" --dev "$release")
		"$here/systemd-initrd.sh" "$sysroot" "$entry" --debs "$debs" "$checks" "$initrd"
		append="$append systemd.show_status=0 systemd.log_level=warning"
		# the root (about 420 MB) is unpacked into memory; DKMS compiles the module under TCG
		mem=3072M
		limit=$((VM_TIMEOUT + 300))
	else
		BRIDGE_KO=$(bridge_module "$entry" "$out/module-$name") "$here/initramfs.sh" "$entry" "$initrd" "$proxy" "$checks"
	fi
	append="$append${iommu:+ vup_iommu=$iommu}"
	img=$out/nvme.img
	[ -f "$img" ] || truncate -s 16M "$img"
	log=$out/console-$name.log
	t1=$(now)
	echo "vm-tests: booting $release${iommu:+ (export on the $iommu path)} (prepared in $(elapsed "$t0" "$t1") s)"
	rc=0
	# The IOMMU comes before the devices it translates for; -nic none drops q35's default NIC (unused).
	timeout -k 10 "$limit" "$QEMU" -M q35 -accel tcg -m "$mem" -smp 1 -nographic -no-reboot -nic none \
		-kernel "$entry/vmlinuz" -initrd "$initrd" \
		-append "$append" \
		-device intel-iommu,intremap=on,caching-mode=on \
		-device edu \
		-drive "file=$img,if=none,id=d0,format=raw" -device nvme,serial=vup,drive=d0 \
		</dev/null >"$log" 2>&1 || rc=$?
	t2=$(now)
	[ "${VM_VERBOSE:-0}" = 1 ] && cat "$log"
	judge "$suite" "$log" "$rc" "$k"
	echo "vm-tests $k ($release): $LAST_PASS passed, $LAST_FAIL failed, $LAST_SKIP skipped;" \
		"boot to result $(elapsed "$t1" "$t2") s"
}

# uapi_check ENTRY LABEL: the project's mirror of the iommufd uAPI against the built tree's own headers.
uapi_check() {
	local entry=$1 k=$2 bin=$out/uapi-check res
	if ! "${CC:-cc}" -Wall -Werror -I"$entry/headers/include" -I"$here/../../proxy" -o "$bin" \
		"$here/uapi_check.c" 2>"$bin.log"; then
		res="FAIL uapi-mirror: uapi_check.c does not build against $entry/headers: $(head -n 1 "$bin.log")"
	else
		res=$("$bin" || true)
	fi
	sed -E "s#^(PASS|FAIL|INFO) #\1 $k/#" <<<"$res"
	if grep -q '^PASS ' <<<"$res"; then
		total_pass=$((total_pass + 1))
	else
		total_fail=$((total_fail + 1))
	fi
}

"$here/deps.sh"
mkdir -p "$out"
# The iommufd kernel is the longest to make the first time (a kernel build, about 18 minutes on 2 cores,
# cached after): it is made in the background while the other suites boot (a TCG guest keeps one CPU
# busy), and its suite runs last.
kbuild_pid=
if [[ " ${suites[*]} " == *" iommufd "* ]]; then
	others=()
	for s in "${suites[@]}"; do [ "$s" = iommufd ] || others+=("$s"); done
	suites=("${others[@]}" iommufd)
	"$here/kernel-build.sh" >"$out/kernel-build.entry" 2>"$out/kernel-build.log" &
	kbuild_pid=$!
	trap 'kill "$kbuild_pid" 2>/dev/null || true' EXIT
	echo "vm-tests: the iommufd kernel is being made or found in the background (log: $out/kernel-build.log)"
fi
for suite in "${suites[@]}"; do
	t0=$(now)
	case "$suite" in
	iommufd)
		# built once per source version and config, then cached
		if ! wait "$kbuild_pid"; then
			tail -n 30 "$out/kernel-build.log" >&2
			echo "run.sh: kernel-build.sh failed (log: $out/kernel-build.log)" >&2
			exit 1
		fi
		trap - EXIT
		entry=$(cat "$out/kernel-build.entry")
		k=$(cut -d. -f1-2 <"$entry/release")
		echo "vm-tests: kernel $(cat "$entry/release") with iommufd (built in $(cat "$entry/build-seconds") s, cached in $entry)"
		uapi_check "$entry" "$k"
		boot "$suite" "$entry" "$k-legacy" legacy "$t0"
		boot "$suite" "$entry" "$k-iommufd" iommufd "$(now)"
		;;
	systemd | pkg)
		entry=$("$here/kernel.sh" bookworm)
		k="$(cut -d. -f1-2 <"$entry/release")-$suite"
		boot "$suite" "$entry" "$k" "" "$t0"
		;;
	*)
		entry=$("$here/kernel.sh" "$suite")
		k=$(cut -d. -f1-2 <"$entry/release")
		boot "$suite" "$entry" "$k" "" "$t0"
		;;
	esac
done
line="vm-tests: $total_pass passed, $total_fail failed"
[ "$total_skip" -gt 0 ] && line="$line, $total_skip skipped"
echo "$line"
[ "$total_fail" -eq 0 ]
