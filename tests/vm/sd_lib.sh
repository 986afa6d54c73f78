# tests/vm/sd_lib.sh: sourced by the systemd guests' benches (systemd-checks.sh, pkg-checks.sh): finding the PCI devices, their drivers, waiting, the units' states.
# shellcheck shell=bash

# find_pci VENDOR DEVICE CLASS: the first PCI device matching the non-empty ones, by address.
find_pci() {
	for d in /sys/bus/pci/devices/*; do
		[ -z "$1" ] || [ "$(cat "$d/vendor")" = "$1" ] || continue
		[ -z "$2" ] || [ "$(cat "$d/device")" = "$2" ] || continue
		[ -z "$3" ] || [ "$(cat "$d/class")" = "$3" ] || continue
		basename "$d"
		return 0
	done
	return 1
}
driver_of() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }
# wait_for SECONDS COMMAND...: polls every 50 ms (WAIT_PERIOD seconds where set) until COMMAND succeeds;
# 1 on timeout.
wait_for() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep "${WAIT_PERIOD:-0.05}"
	done
}
unit_active() { [ "$(systemctl is-active "vfio-user-proxy@$1.service")" = active ]; }
unit_gone() { ! systemctl -q is-active "vfio-user-proxy@$1.service"; }
