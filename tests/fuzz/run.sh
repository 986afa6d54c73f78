#!/usr/bin/env bash
# tests/fuzz/run.sh: runs each libFuzzer harness SECONDS on its corpus, then replays the corpus for line coverage; prints executions and coverage.
# usage: run.sh SECONDS BUILD_DIR HARNESS... (SECONDS 0: only the coverage replay of the corpus as it stands)
set -uo pipefail
secs=$1 build=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
profdata=${FUZZ_PROFDATA:-llvm-profdata-14}
llvmcov=${FUZZ_COV:-llvm-cov-14}
# ASan: no leak check at exit (the shared server context lives for the whole run), fail on any report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=()
for h in "$@"; do
	bin=$build/fuzz_$h
	work=$build/corpus/$h
	seeds=$here/corpus/$h
	art=$build/artifacts/$h/
	log=$build/fuzz_$h.log
	mkdir -p "$work" "$art"
	# The session takes whole 1 MiB messages in several records; a VERSION payload is at most 4 KiB of JSON.
	maxlen=1200000
	[ "$h" = version ] && maxlen=8192
	execs=0 cov=- ft=- rc=0
	if [ "$secs" -gt 0 ]; then
		echo "== fuzz_$h: ${secs}s on $seeds (+ $work); log $log"
		"$bin" -max_total_time="$secs" -print_final_stats=1 -print_funcs=0 -max_len=$maxlen -rss_limit_mb=4096 \
			-timeout=10 -artifact_prefix="$art" "$work" "$seeds" >"$log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
		cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
		ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
		if [ "$rc" -ne 0 ]; then
			status=1
			echo "fuzz_$h FAILED (exit $rc): the end of its log:" >&2
			tail -60 "$log" >&2
			ls -l "$art" >&2
		fi
	fi
	# Line coverage of the whole corpus (seeds + found), with the coverage-instrumented build.
	line=-
	covbin=$build/cov/fuzz_$h
	if [ -x "$covbin" ] && command -v "$profdata" >/dev/null; then
		raw=$build/cov/$h.profraw
		rm -f "$raw"
		LLVM_PROFILE_FILE=$raw ASAN_OPTIONS= "$covbin" -runs=0 "$work" "$seeds" >"$build/cov/$h.log" 2>&1
		if [ -s "$raw" ] && "$profdata" merge -sparse -o "$build/cov/$h.profdata" "$raw" 2>/dev/null; then
			# The files the harness can reach: the session code and what is below it (not the event
			# loop in server.c, nor other backends); caps.c alone for the VERSION harness; the state
			# format alone for the hand-over harness.
			if [ "$h" = version ]; then
				srcs=("$PWD/proxy/server/caps.c")
			elif [ "$h" = handover ]; then
				srcs=("$PWD/proxy/util/handover_state.c")
			else
				srcs=()
				for f in "$PWD"/proxy/server/*.c "$PWD"/proxy/backend/emulated.c "$PWD"/proxy/model/*.c \
					"$PWD"/proxy/util/guarded_copy.c; do
					[ "${f##*/}" = server.c ] || srcs+=("$f")
				done
			fi
			"$llvmcov" report "$covbin" -instr-profile="$build/cov/$h.profdata" "${srcs[@]}" \
				>"$build/cov/$h.report" 2>/dev/null
			line=$(awk '/^TOTAL/ { print $(NF-3) " of " $(NF-5) " lines" }' "$build/cov/$h.report")
		fi
	fi
	corpus=$(find "$work" "$seeds" -type f | wc -l)
	summary+=("fuzz_$h: ${execs:-0} executions in ${secs}s, libFuzzer cov ${cov:-?} ft ${ft:-?}, corpus $corpus inputs, line coverage ${line:--} (report: $build/cov/$h.report)${rc:+ $( [ "$rc" -eq 0 ] && echo ok || echo FAILED)}")
done
printf '%s\n' "${summary[@]}"
exit $status
