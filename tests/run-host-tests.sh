#!/usr/bin/env bash
# run-host-tests.sh: runs cmocka test binaries, sums their results, and prints one "N passed, N failed" line.
set -u
passed=0
failed=0
broken=()
for bin in "$@"; do
	name=${bin##*/}
	log=$(mktemp)
	echo "== $name"
	"$bin" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	rm -f "$log"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or exited non-zero without a cmocka failure line: count the binary as one failure
		failed=$((failed + 1))
		broken+=("$name (exit $rc)")
	fi
done
[ ${#broken[@]} -eq 0 ] || printf 'broken: %s\n' "${broken[@]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
