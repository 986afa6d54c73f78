#!/usr/bin/env bash
# tests/doc/check_options.sh: holds --help, the manual pages (doc/*.[58]) and README.md to each other and to the parsers: the same options everywhere, each accepted, and pages that render without a warning.
#
# Usage: tests/doc/check_options.sh PROXY   (PROXY: the vfio-user-proxy binary)
#
# What the manual page must look like for this to read it (doc/vfio-user-proxy.8):
#   - the global options are in `.SH OPTIONS`;
#   - each command is a `.SS NAME` under `.SH COMMANDS`, a subcommand `.SS "bridge create"`;
#   - each option is a `.TP` whose tag line (the next one) starts with the option: `.B \-\-json` when it
#     takes no argument, `.BI \-\-dir " dir"` (or any other words after it) when it takes one;
#   - `.SH "SERVING OPTIONS"` holds the options emulate, export and watch share: a command's subsection
#     that contains the words SERVING OPTIONS takes them all as its own.
# A command's options in --help: every --word in `COMMAND --help`; for the global ones, the lines of
# `vfio-user-proxy --help` from "options:" on. An option takes an argument where --help writes one after
# it somewhere: `--dir DIR` (an upper-case word) or `--iommu auto|iommufd|legacy`.
# The commands come from `vfio-user-proxy --help` ("commands:"), subcommands from a command's synopsis
# lines (`vfio-user-proxy bridge create ...`), so a new one fails here until it is documented.
set -euo pipefail

PROXY=${1:?usage: check_options.sh PROXY}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MAN8=$ROOT/doc/vfio-user-proxy.8
MAN5=$ROOT/doc/vfio-user-proxy.conf.5
README=$ROOT/README.md
PROG=vfio-user-proxy
# README sections about building, packaging and testing, whose --words are the scripts' and tools' (deps.sh --all, bench --short, pkg-config --cflags)
README_SKIP='Quick start|Debian packages|Building|Layout'
# Options a parser takes that no --help lists, on purpose: a hand-over's successor's (util/handover_exec.c)
INTERNAL='--resume-exe --resume-fallback --resume-fd --resume-notify'

case $PROXY in /*) ;; *) PROXY=$PWD/$PROXY ;; esac
[ -x "$PROXY" ] || { echo "check_options: $PROXY is not an executable" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0
fail() {
	echo "FAIL: $*" >&2
	failed=1
}

# The --words of stdin, sorted, one a line.
opts_of() { { grep -oE -e '--[a-z][a-z0-9-]*' || true; } | sort -u; }
# "OPTION ARGWORD" for each option --help shows with an argument, the first one written.
args_of() {
	{ grep -oE -e '--[a-z][a-z0-9-]*( [A-Z][A-Z_]*\b| [a-z0-9-]+(\|[a-z0-9-]+)+)' || true; } |
		awk '!seen[$1]++'
}
# Lines of $1 not in $2 (both sorted), as one line.
minus() { comm -23 <(printf '%s\n' "$1" | sed '/^$/d') <(printf '%s\n' "$2" | sed '/^$/d') | tr '\n' ' '; }
words() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -u; }

# ---- the manual page's structure: one line per option, SECTION<TAB>SUBSECTION<TAB>OPTION<TAB>ARG ----
# and REF<TAB>SUBSECTION for each subsection that takes the serving options.
awk -F '\t' '
function name(s) { sub(/^\.S[HS][ \t]+/, "", s); gsub(/"/, "", s); gsub(/\\-/, "-", s); return s }
/^\.SH/ { sh = name($0); ss = ""; tp = 0; next }
/^\.SS/ { ss = name($0); tp = 0; next }
/^\.TP/ { tp = 1; next }
tp {
	tp = 0
	if ($0 ~ /^\.(B|BI|BR|IB|RB)[ \t]+\\-\\-/) {
		line = $0
		sub(/^\.[A-Z]+[ \t]+/, "", line)
		tok = line; sub(/[ \t"].*/, "", tok)
		rest = substr(line, length(tok) + 1)
		opt = tok; gsub(/\\-/, "-", opt)
		gsub(/\\f[BIRP]|"|[ \t]/, "", rest)
		printf "%s\t%s\t%s\t%d\n", sh, ss, opt, rest != ""
	}
	next
}
sh == "COMMANDS" && ss != "" && /SERVING OPTIONS/ && !ref[ss]++ { printf "REF\t%s\n", ss }
' "$MAN8" >"$TMP/man"

# A command's options in the manual page, with their ARG flags: "OPTION 0|1" lines.
man_entries() {
	local key=$1
	if [ "$key" = global ]; then
		awk -F '\t' '$1 == "OPTIONS" && $2 == "" { print $3, $4 }' "$TMP/man"
		return
	fi
	awk -F '\t' -v k="$key" '
		$1 == "REF" && ($2 == k || index($2, k " ") == 1) { serving = 1 }
		$1 == "COMMANDS" && ($2 == k || index($2, k " ") == 1) { print $3, $4 }
		$1 == "SERVING OPTIONS" { s[++n] = $3 " " $4 }
		END { if (serving) for (i = 1; i <= n; i++) print s[i] }' "$TMP/man"
}
man_has_subsection() { grep -qE "^\.SS +\"?$1\"?\$" "$MAN8"; }

# ---- the commands, from --help ----
"$PROXY" --help >"$TMP/help.global" 2>"$TMP/err" || fail "$PROG --help exits $? (want 0)"
if [ -s "$TMP/err" ]; then fail "$PROG --help writes on stderr: $(head -1 "$TMP/err")"; fi
commands=$(awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$TMP/help.global")
[ -n "$commands" ] || fail "$PROG --help lists no commands (a 'commands:' block)"
keys=(global)
declare -A has_subs=() # the commands whose options are their subcommands'
for c in $commands; do
	keys+=("$c")
	"$PROXY" "$c" --help >"$TMP/help.$c" 2>"$TMP/err" || fail "$PROG $c --help exits $? (want 0)"
	if [ -s "$TMP/err" ]; then fail "$PROG $c --help writes on stderr: $(head -1 "$TMP/err")"; fi
	subs=$(sed -nE "s/^ *(usage: +)?$PROG $c ([a-z][a-z-]*)( .*)?\$/\\2/p" "$TMP/help.$c" | sort -u)
	[ "$(wc -w <<<"$subs")" -ge 2 ] || continue
	has_subs[$c]=1
	for s in $subs; do
		keys+=("$c $s")
		"$PROXY" "$c" "$s" --help >"$TMP/help.$c $s" 2>"$TMP/err" || fail "$PROG $c $s --help exits $? (want 0)"
		if [ -s "$TMP/err" ]; then fail "$PROG $c $s --help writes on stderr: $(head -1 "$TMP/err")"; fi
	done
done
# The global options are what follows "options:" (the command list names the commands' options).
sed -n '/^options:/,$p' "$TMP/help.global" >"$TMP/help.global.options"

help_file() { if [ "$1" = global ]; then echo "$TMP/help.global.options"; else echo "$TMP/help.$1"; fi; }

# ---- --help against the manual page, per command ----
for k in "${keys[@]}"; do
	label="$PROG $k"; [ "$k" != global ] || label="the global options"
	if [ "$k" != global ] && ! man_has_subsection "$k"; then
		fail "$MAN8: no subsection .SS \"$k\" under .SH COMMANDS for $PROG $k"
		continue
	fi
	h=$(opts_of <"$(help_file "$k")")
	[ -n "$h" ] || fail "$PROG ${k#global} --help lists no option"
	m=$(man_entries "$k" | awk '{ print $1 }' | sort -u)
	miss=$(minus "$h" "$m")
	extra=$(minus "$m" "$h")
	[ -z "$miss" ] || fail "$label: in --help, not in the manual page: $miss"
	[ -z "$extra" ] || fail "$label: in the manual page, not in --help: $extra"
	# an argument in one and not in the other
	args_of <"$(help_file "$k")" >"$TMP/args"
	while read -r o a; do
		ha=0
		if grep -q -e "^$o " "$TMP/args"; then ha=1; fi
		grep -qxF -e "$o" <<<"$h" || continue
		[ "$a" = "$ha" ] || fail "$label: $o takes an argument in $([ "$ha" = 1 ] && echo "--help, not in the manual page" || echo "the manual page, not in --help")"
	done < <(man_entries "$k" | sort -u)
done

# A command with subcommands: its overview lists exactly what they do.
for k in "${keys[@]}"; do
	case $k in *" "*) ;; *) continue ;; esac
	parent=${k%% *}
	cat "$TMP/help.$k" >>"$TMP/subs.$parent"
done
for f in "$TMP"/subs.*; do
	[ -e "$f" ] || continue
	parent=${f##*/subs.}
	o=$(opts_of <"$TMP/help.$parent")
	s=$(opts_of <"$f")
	[ -z "$(minus "$o" "$s")" ] || fail "$PROG $parent --help lists what no subcommand's does: $(minus "$o" "$s")"
	[ -z "$(minus "$s" "$o")" ] || fail "$PROG $parent --help misses its subcommands' $(minus "$s" "$o")"
done

# ---- each option --help lists is one the parser takes: COMMAND --opt [VALUE] --help exits 0 ----
# (--help last: nothing is served, probed or bound.)
dummy() {
	case $1 in
	PATH) echo "$TMP/doc-check.sock" ;;
	DIR) echo "$TMP" ;;
	N | MS) echo 1 ;;
	LEVEL) echo info ;;
	MODE) echo 0660 ;;
	USER | GROUP) echo 0 ;;
	SIZE) echo 64M ;;
	NAME) echo edu ;;
	ID) echo 1234 ;;
	UUID) echo 01234567-89ab-cdef-0123-456789abcdef ;;
	*'|'*) echo "${1%%|*}" ;;
	*) echo 1 ;;
	esac
}
for k in "${keys[@]}"; do
	[ -z "${has_subs[$k]:-}" ] || continue # tried under each subcommand
	read -r -a cmd <<<"${k/#global/}"
	args_of <"$(help_file "$k")" >"$TMP/args"
	for o in $(opts_of <"$(help_file "$k")"); do
		[ "$o" = --help ] && continue
		argv=("${cmd[@]}" "$o")
		a=$(awk -v o="$o" '$1 == o { print $2 }' "$TMP/args")
		if [ -n "$a" ]; then argv+=("$(dummy "$a")"); fi
		argv+=(--help)
		rc=0
		(cd "$TMP" && timeout 10 "$PROXY" "${argv[@]}") >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
		if grep -qiE 'unrecognized option|unknown option|not one of this subcommand' "$TMP/err"; then
			fail "$PROG ${argv[*]}: the parser does not take $o: $(head -1 "$TMP/err")"
		elif [ "$rc" != 0 ] || [ ! -s "$TMP/out" ]; then
			fail "$PROG ${argv[*]}: exit status $rc (want 0, with the help or version): $(head -1 "$TMP/err")"
		fi
	done
done

# ---- every option in a parser's table is in some --help (the internal ones excepted) ----
all_help=$(for k in "${keys[@]}"; do opts_of <"$(help_file "$k")"; done; opts_of <"$TMP/help.global")
all_help=$(sort -u <<<"$all_help")
parsed=$({
	grep -ohE '\{ *"[a-z][a-z0-9-]*", *(no|required|optional)_argument' "$ROOT"/proxy/main.c "$ROOT"/proxy/cli/*.c \
		"$ROOT"/proxy/cli/*.h | sed -E 's/^\{ *"([^"]*)".*/--\1/'
	grep -ohE 'strcmp\([a-z]+, *"--[a-z][a-z0-9-]*"\)' "$ROOT"/proxy/cli/*.c | grep -oE -e '--[a-z][a-z0-9-]*'
} | sort -u)
hidden=$(minus "$parsed" "$(sort -u <<<"$all_help"$'\n'"$(words "$INTERNAL")")")
[ -z "$hidden" ] || fail "options a parser takes that no --help lists: $hidden"

# ---- README.md documents exactly the options of the --help texts ----
readme=$(awk -v skip="^## ($README_SKIP)" '/^## / { off = ($0 ~ skip) } !off' "$README" | opts_of)
miss=$(minus "$all_help" "$readme")
extra=$(minus "$readme" "$all_help")
[ -z "$miss" ] || fail "README.md: in --help, not in the README: $miss"
[ -z "$extra" ] || fail "README.md: in the README, not in any --help: $extra"

# ---- the pages render without a warning, as man and lintian see them ----
for page in "$MAN8" "$MAN5"; do
	rel=${page#"$ROOT"/}
	if ! out=$(groff -ww -z -man "$page" 2>&1) || [ -n "$out" ]; then
		fail "$rel: groff -ww: ${out:-exit status not 0}"
	fi
	for w in 80 100; do
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=$w man --warnings -E UTF-8 -l -Tutf8 "$page" 2>&1 >/dev/null) || true
		[ -z "$out" ] || fail "$rel: man --warnings (width $w): $(head -3 <<<"$out")"
	done
	# lintian's checks: a whatis entry lexgrog can read, "name \- description" in NAME, \- for dashes
	if command -v lexgrog >/dev/null && ! lexgrog "$page" >/dev/null 2>&1; then
		fail "$rel: lexgrog finds no whatis entry (lintian: bad-whatis-entry)"
	fi
	awk '/^\.SH +"?NAME"?$/ { getline; if ($0 !~ /^[a-z0-9][a-z0-9._@-]* \\- [^ ]/) bad = 1; found = 1 }
	     END { exit !(found && !bad) }' "$page" || fail "$rel: the NAME section is not one line \"name \\- description\""
	# the version the page names is the project's (VERSION, as the packages and --version say)
	th=$(sed -n 's/^\.TH .*"vfio\\-user\\-proxy \([0-9][0-9.]*\)".*/\1/p' "$page")
	[ "$th" = "$(cat "$ROOT/VERSION")" ] || fail "$rel: .TH names version '$th', VERSION says $(cat "$ROOT/VERSION")"
	dash=$(grep -nE '(^|[[:space:](|["[])-{1,2}[A-Za-z0-9]' "$page" | grep -vE '^[0-9]+:\.\\"' || true)
	[ -z "$dash" ] || fail "$rel: an option dash not written \\-: $(head -3 <<<"$dash")"
done

if [ "$failed" = 0 ]; then
	echo "doc-check: --help, $(basename "$MAN8"), $(basename "$MAN5") and README.md agree (${#keys[@]} option lists)"
fi
exit "$failed"
