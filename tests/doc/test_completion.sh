#!/usr/bin/env bash
# test_completion.sh PROXY_BIN: the bash completion (completion/vfio-user-proxy) against PROXY_BIN's --help texts and a fake sysfs tree, in a bash without bash-completion and in one with it (its loader sourcing the file).
#
# Each case sets COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT as bash does for a command line (split at
# blanks and at ':' and '=', as COMP_WORDBREAKS says), calls _vfio_user_proxy and compares COMPREPLY with
# what it must be, as a set (readline sorts what it shows). One PASS/FAIL line a case; exit 1 on a failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMPLETION=${COMPLETION:-$here/../../completion/vfio-user-proxy}

usage() {
	echo "usage: $0 PROXY_BIN" >&2
	exit 2
}

# ---------------------------------------------------------------------------------------------------
# The cases, run in a child bash (--cases MODE TREE PROXY_BIN).

# Bash's split of a line at blanks and at runs of ':' or '=' (what the cases use of COMP_WORDBREAKS): sets
# words and cword for the cursor at point.
split_line() {
	local line=$1 point=$2 i c kind prev="" tok="" start=0
	words=()
	cword=-1
	local -a starts=() ends=()
	for ((i = 0; i <= ${#line}; i++)); do
		c=${line:i:1}
		if ((i == ${#line})) || [[ $c == " " ]]; then
			kind=blank
		elif [[ $c == : || $c == = ]]; then
			kind=brk
		else
			kind=word
		fi
		if [[ -n $tok && $kind != "$prev" ]]; then
			words+=("$tok")
			starts+=("$start")
			ends+=("$i")
			tok=
		fi
		if [[ $kind != blank ]]; then
			[[ -z $tok ]] && start=$i
			tok+=$c
		fi
		prev=$kind
	done
	for i in "${!words[@]}"; do
		if ((starts[i] <= point && point <= ends[i])); then
			cword=$i
		fi
	done
	if ((cword < 0)); then
		# The cursor after a blank: a new, empty word (at the end in every case here).
		words+=("")
		cword=$((${#words[@]} - 1))
	fi
	return 0
}

# Lines to one line.
flat() {
	printf '%s' "${1//$'\n'/ }"
}

ncase=0
nfail=0
current=

# check NAME WANT LINE: LINE is the command line ('^' marks the cursor, else at its end), WANT the replies
# (one a line, or space-separated when none has a blank).
check() {
	local name=$1 want=$2 line=$3 point words cword got err
	local -a wants
	point=${line%%^*}
	point=${#point}
	line=${line/^/}
	split_line "$line" "$point"
	COMP_WORDS=("${words[@]}")
	COMP_CWORD=$cword
	COMP_LINE=$line
	COMP_POINT=$point
	COMPREPLY=(stale)
	ncase=$((ncase + 1))
	current=$name
	_vfio_user_proxy "${COMP_WORDS[0]}" "${COMP_WORDS[cword]}" "${COMP_WORDS[cword - 1]-}" 2>"$errf"
	current=
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | LC_ALL=C sort)
	read -ra wants <<<"$want"
	want=
	if ((${#wants[@]})); then
		want=$(printf '%s\n' "${wants[@]}" | LC_ALL=C sort)
	fi
	err=$(cat "$errf")
	if [[ $got == "$want" && -z $err ]]; then
		printf 'PASS [%s] %s\n' "$mode" "$name"
	else
		nfail=$((nfail + 1))
		printf 'FAIL [%s] %s: line "%s"\n' "$mode" "$name" "$line"
		[[ $got == "$want" ]] || printf '     want: %s\n      got: %s\n' "$(flat "$want")" "$(flat "$got")"
		[[ -z $err ]] || printf '     stderr: %s\n' "$err"
	fi
	return 0
}

run_cases() {
	mode=$1 T=$2 P=$3
	local U1=4b1f9c2e-7d33-4a55-9e1c-2f6a0b8d9e01 U2=9c0ffee0-1234-4abc-8def-0123456789ab
	local V1=0000:01:00.0 V2=0000:02:00.0 D="$T/files" vars_before="" opts_before=""
	errf=$T/stderr.$mode
	export VFIO_USER_PROXY_SYSFS_ROOT=$T/sys
	trap 'if [[ -n $current ]]; then echo "FAIL [$mode] $current: the completion function ended the shell (errexit or set -u)"; else echo "FAIL [$mode] the cases stopped early"; fi' EXIT

	if [[ $mode == plain ]]; then
		if declare -F _init_completion >/dev/null || declare -F _comp_initialize >/dev/null; then
			echo "FAIL [$mode] bash-completion is loaded in the plain bash"
			exit 1
		fi
		# shellcheck source=/dev/null
		source "$COMPLETION"
	else
		set +eu
		# shellcheck source=/dev/null
		source /usr/share/bash-completion/bash_completion
		# Its loader finds the file as it will once installed: a completions directory, sourced in a function.
		mkdir -p "$T/bc-user/completions"
		ln -sf "$(cd "$(dirname "$COMPLETION")" && pwd)/vfio-user-proxy" "$T/bc-user/completions/vfio-user-proxy"
		export BASH_COMPLETION_USER_DIR=$T/bc-user
		complete -r vfio-user-proxy 2>/dev/null
		if declare -F _comp_load >/dev/null; then
			_comp_load vfio-user-proxy
		else
			__load_completion vfio-user-proxy
		fi
		set -eu
	fi
	ncase=$((ncase + 1))
	if [[ $(complete -p vfio-user-proxy 2>/dev/null) == *"-F _vfio_user_proxy "* ]]; then
		echo "PASS [$mode] the file registers _vfio_user_proxy for vfio-user-proxy"
	else
		nfail=$((nfail + 1))
		echo "FAIL [$mode] no 'complete -F _vfio_user_proxy vfio-user-proxy' after loading: $(complete -p vfio-user-proxy 2>&1)"
	fi
	# The plain bash runs the cases under set -u (and -e), the other as an interactive shell would.
	[[ $mode == plain ]] || set +eu
	vars_before=$(compgen -v | LC_ALL=C sort)
	opts_before="$(set +o) $(shopt -p)"

	check "commands from --help" "emulate export" "$P e"
	check "every command" "emulate export probe bind unbind watch bridge upgrade" "$P "
	check "global options" "--log-level --version --help" "$P --"
	check "--log-level values" "error warn info debug" "$P --log-level "
	check "a global option's value is skipped" "export" "$P --log-level debug exp"
	check "--opt=value split at '='" "debug" "$P --log-level=d"
	check "emulate options from its --help" "--socket-path --socket-mode --socket-group" "$P emulate --so"
	check "export-only option not offered to emulate" "" "$P emulate --tr"
	check "export's own option" "--trap-bars" "$P export $V1 --tr"
	check "watch's options" "--once" "$P watch --on"
	check "emulate --device" "edu" "$P emulate --device "
	check "bridge create --device takes a hex ID: nothing" "" "$P bridge create --device "
	check "export: vfio-pci devices and mdevs" "$V1 $V2 $U1 $U2" "$P export "
	check "export: after the device, options" "--iommu" "$P export $V1 --io"
	check "export --iommu" "auto iommufd legacy" "$P export $V1 --iommu "
	check "export: an option's value is no DEVICE" "$V1 $V2 $U1 $U2" "$P export --iommu legacy "
	check "bind: devices not on vfio-pci" "0000:00:00.0 0000:00:1f.0 0000:00:1f.3 0000:03:00.0 0001:00:02.0" "$P bind "
	check "bind: a partial address split at ':'" "1f.0 1f.3" "$P bind --group 0000:00:1"
	check "unbind: devices on vfio-pci" "$V1 $V2" "$P unbind $V2 "
	check "unbind: the short form" "02:00.0" "$P unbind 02"
	check "probe: sockets and directories only" "$D/edu.sock $D/sub" "$P probe $D/"
	check "--socket-path: files" "$D/edu.sock $D/notes.txt $D/sub" "$P emulate --socket-path $D/"
	check "--dir: directories" "$D/sub" "$P watch --dir $D/"
	check "--fd: nothing" "" "$P emulate --fd "
	check "--user: users" "$(compgen -u -- ro)" "$P export $V1 --user ro"
	check "--allow-gid: groups" "$(compgen -g -- ro)" "$P emulate --allow-gid ro"
	check "bridge subcommands" "create destroy list inject events" "$P bridge "
	check "bridge inject: the bridge's instances only" "$U1" "$P bridge inject "
	check "bridge destroy: the bridge's instances only" "$U1" "$P bridge destroy "
	check "bridge inject faults" "dma-fail err-irq stall-reads surprise-removal" "$P bridge inject x "
	check "bridge inject's options" "--ms --help" "$P bridge inject $U1 stall-reads --"
	check "bridge list's options" "--json --help" "$P bridge list --"
	check "bridge's own options before a subcommand" "--help" "$P bridge --"
	check "upgrade's options" "--pid --timeout --help" "$P upgrade --"
	check "upgrade --timeout: nothing" "" "$P upgrade --timeout "
	check "cursor inside the line" "emulate export" "$P e^ --socket-path /x"
	check "unknown command: nothing" "" "$P nosuch --"
	check "the binary found in PATH" "export" "vfio-user-proxy exp"
	check "no binary: nothing, quietly" "" "$T/none/vfio-user-proxy e"

	ncase=$((ncase + 1))
	local extra
	extra=$(LC_ALL=C comm -13 <(echo "$vars_before") <(compgen -v | LC_ALL=C sort) |
		grep -Ev '^(_vfio_user_proxy.*|COMPREPLY|COMP_WORDS|COMP_CWORD|COMP_LINE|COMP_POINT|BASH_REMATCH|current)$' || true)
	if [[ -z $extra && "$(set +o) $(shopt -p)" == "$opts_before" ]]; then
		echo "PASS [$mode] no global variable but _vfio_user_proxy*, no shell option changed"
	else
		nfail=$((nfail + 1))
		echo "FAIL [$mode] new globals: $(flat "$extra"); shell options changed: $([[ "$(set +o) $(shopt -p)" == "$opts_before" ]] && echo no || echo yes)"
	fi
	set -eu
	trap - EXIT
	echo "[$mode] $((ncase - nfail)) of $ncase passed"
	((nfail == 0))
}

if [[ ${1-} == --cases ]]; then
	(($# == 4)) || usage
	PATH=$(dirname "$4"):$PATH
	run_cases "$2" "$3" "$4"
	exit $?
fi

# ---------------------------------------------------------------------------------------------------
# The tree, then the cases in each kind of bash.

(($# == 1)) || usage
PROXY=$1
[[ -x $PROXY ]] || { echo "$0: $PROXY is no executable" >&2; exit 2; }
[[ -f $COMPLETION ]] || { echo "$0: no $COMPLETION" >&2; exit 2; }
PROXY=$(cd "$(dirname "$PROXY")" && pwd)/$(basename "$PROXY")
T=$(mktemp -d "${TMPDIR:-/tmp}/vup-completion.XXXXXX")
trap 'rm -rf "$T"' EXIT

# A PCI device under devices/pci<domain>:<bus>/, its bus/pci/devices link, and its driver (none: "-").
S=$T/sys
mkdir -p "$S/bus/pci/devices" "$S/bus/pci/drivers" "$S/bus/mdev/devices" "$S/class/mdev_bus"
pci_dev() {
	local bdf=$1 drv=$2 dir=$S/devices/pci${1:0:7}/$1
	mkdir -p "$dir"
	echo 0x020000 >"$dir/class"
	ln -s "../../../devices/pci${bdf:0:7}/$bdf" "$S/bus/pci/devices/$bdf"
	[[ $drv == - ]] && return 0
	mkdir -p "$S/bus/pci/drivers/$drv"
	touch "$S/bus/pci/drivers/$drv/bind" "$S/bus/pci/drivers/$drv/unbind" "$S/bus/pci/drivers/$drv/new_id"
	ln -s "../../../../devices/pci${bdf:0:7}/$bdf" "$S/bus/pci/drivers/$drv/$bdf"
	ln -s "../../../bus/pci/drivers/$drv" "$dir/driver"
}
pci_dev 0000:00:00.0 -
pci_dev 0000:00:1f.0 lpc_ich
pci_dev 0000:00:1f.3 snd_hda_intel
pci_dev 0000:01:00.0 vfio-pci
pci_dev 0000:02:00.0 vfio-pci
pci_dev 0000:03:00.0 nvme
pci_dev 0001:00:02.0 -
# Two mdevs: one of the bridge module's parent (class/mdev_bus/vup_bridge, type vup_bridge-edu), one of
# another parent's (a PCI device's type).
U1=4b1f9c2e-7d33-4a55-9e1c-2f6a0b8d9e01
U2=9c0ffee0-1234-4abc-8def-0123456789ab
mkdir -p "$S/devices/virtual/vup_bridge/mdev_supported_types/vup_bridge-edu" "$S/devices/virtual/vup_bridge/$U1"
ln -s ../../devices/virtual/vup_bridge "$S/class/mdev_bus/vup_bridge"
ln -s ../mdev_supported_types/vup_bridge-edu "$S/devices/virtual/vup_bridge/$U1/mdev_type"
ln -s "../../../devices/virtual/vup_bridge/$U1" "$S/bus/mdev/devices/$U1"
P3=$S/devices/pci0000:00/0000:03:00.0
mkdir -p "$P3/mdev_supported_types/nvme-vf" "$P3/$U2"
ln -s ../mdev_supported_types/nvme-vf "$P3/$U2/mdev_type"
ln -s "../../../devices/pci0000:00/0000:03:00.0/$U2" "$S/bus/mdev/devices/$U2"
# Files for probe, --socket-path and --dir: a socket, a regular file, a directory.
mkdir -p "$T/files/sub" "$T/none"
echo notes >"$T/files/notes.txt"
if command -v perl >/dev/null; then
	perl -MSocket -e 'socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!"; bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!"' "$T/files/edu.sock"
else
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/files/edu.sock"
fi
[[ -S $T/files/edu.sock ]] || { echo "$0: could not make a socket file" >&2; exit 1; }

rc=0
echo "== completion in a bash without bash-completion (bash --norc)"
env -u BASH_ENV COMPLETION="$COMPLETION" bash --norc --noprofile "${BASH_SOURCE[0]}" --cases plain "$T" "$PROXY" || rc=1
if [[ -f /usr/share/bash-completion/bash_completion ]]; then
	echo "== completion loaded by bash-completion's loader"
	env -u BASH_ENV COMPLETION="$COMPLETION" bash --norc --noprofile "${BASH_SOURCE[0]}" --cases bash-completion "$T" "$PROXY" || rc=1
else
	echo "== no /usr/share/bash-completion/bash_completion: the run with bash-completion skipped"
fi
((rc == 0)) && echo "completion: all passed" || echo "completion: FAILED"
exit $rc
