# tests/vm/bridge_checks.sh: sourced by the busybox guest's /init: the bridge module vup_bridge: insmod, an instance created and removed through the mdev sysfs, its IOMMU group node, export and the client checks where export takes an mdev, rmmod.
# shellcheck shell=sh
#
# Needs from /init: CHECK_TIMEOUT, STOP_TIMEOUT, start_proxy, stop_proxy, client and report.sh.
# initramfs.sh puts the module (built for the booted kernel by run.sh) in /lib/modules/vup_bridge.ko and
# the modules it needs (mdev, from the kernel) in /etc/vm/bridge-modules, in load order.

BR_TYPE=/sys/class/mdev_bus/vup_bridge/mdev_supported_types/vup_bridge-edu

# br_wait TENTHS COMMAND...: polls every 0.1 s until COMMAND succeeds; 1 on timeout.
br_wait() {
	n=$1
	shift
	until "$@"; do
		[ "$n" -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.1
	done
}
br_exists() { [ -e "$1" ]; }
br_gone() { [ ! -e "$1" ]; }
br_chr() { [ -c "$1" ]; }

# br_create: a new instance through sysfs; sets BR_UUID, BR_DEV and BR_GROUP. 0 or 1 (failed, said).
br_create() {
	BR_UUID=$(cat /proc/sys/kernel/random/uuid)
	BR_DEV=/sys/bus/mdev/devices/$BR_UUID
	BR_GROUP=
	if ! echo "$BR_UUID" >"$BR_TYPE/create" 2>/tmp/br.err; then
		fail "$1" "echo UUID > $BR_TYPE/create: $(cat /tmp/br.err)"
		return 1
	fi
	if ! br_wait 50 br_exists "$BR_DEV"; then
		fail "$1" "$BR_DEV did not appear"
		return 1
	fi
	BR_GROUP=$(basename "$(readlink "$BR_DEV/iommu_group" 2>/dev/null)" 2>/dev/null)
	if [ -z "$BR_GROUP" ] || ! br_wait 50 br_chr "/dev/vfio/$BR_GROUP"; then
		fail "$1" "no IOMMU group node for $BR_DEV (group '$BR_GROUP')"
		return 1
	fi
}

# br_remove LABEL: removes the instance; 0 or 1 (failed, said).
br_remove() {
	if ! echo 1 >"$BR_DEV/remove" 2>/tmp/br.err; then
		fail "$1" "echo 1 > $BR_DEV/remove: $(cat /tmp/br.err)"
		return 1
	fi
	if ! br_wait 50 br_gone "$BR_DEV"; then
		fail "$1" "$BR_DEV still there after remove"
		return 1
	fi
}

# shellcheck source=tests/vm/bridge_ctl_checks.sh
. /etc/vm/bridge_ctl_checks.sh

# The fault checks' client (see bridge_ctl_checks.sh): export of the instance, vm-bridge --bridge-fault MODE
# against it, which arms the fault with $BRIDGE_INJECT at the right moment and says whether it showed.
bridge_ctl_client() {
	case "$2" in
	basic | surprise-removal) bc_export_client "$@" ;;
	*)
		bc_export "$1" || return 1
		timeout "$CHECK_TIMEOUT" vm-bridge --socket "$BC_DIR/export.sock" --label "$3" --bridge-fault "$2" \
			--inject "$BRIDGE_INJECT" --stall-ms "${BRIDGE_STALL_MS:-0}"
		bc_rc=$?
		kill -TERM "$BC_EXPORT"
		wait "$BC_EXPORT"
		[ "$bc_rc" -eq 0 ] || cat "$BC_DIR/export.log"
		return "$bc_rc"
		;;
	esac
}

bridge_checks() {
	if [ ! -e /lib/modules/vup_bridge.ko ]; then
		skip bridge "no vup_bridge.ko built for $(uname -r) (run.sh could not build it)"
		return 0
	fi
	while read -r m; do
		if ! insmod "/lib/modules/$m.ko" 2>/tmp/br.err; then
			fail bridge.insmod "insmod $m: $(tr '\n' ' ' </tmp/br.err)"
			return 0
		fi
	done </etc/vm/bridge-modules
	pass bridge.insmod

	if [ -d "$BR_TYPE" ] && [ "$(cat "$BR_TYPE/device_api")" = vfio-pci ] &&
		[ "$(cat "$BR_TYPE/available_instances")" -gt 0 ] && [ -n "$(cat "$BR_TYPE/description")" ]; then
		pass bridge.parent
		echo "INFO bridge: $(cat "$BR_TYPE/name"), $(cat "$BR_TYPE/available_instances") available: $(cat "$BR_TYPE/description")"
	else
		fail bridge.parent "no type $BR_TYPE with device_api vfio-pci, instances available and a description"
		return 0
	fi
	avail0=$(cat "$BR_TYPE/available_instances")

	br_create bridge.create || return 0
	drv=$(basename "$(readlink "$BR_DEV/driver" 2>/dev/null)" 2>/dev/null)
	if [ "$drv" = vup_bridge ] && [ "$(cat "$BR_TYPE/available_instances")" = $((avail0 - 1)) ]; then
		pass bridge.create
		echo "INFO bridge: $BR_UUID in IOMMU group $BR_GROUP (/dev/vfio/$BR_GROUP), driver $drv"
	else
		fail bridge.create "$BR_DEV: driver '$drv', $(cat "$BR_TYPE/available_instances") available (was $avail0)"
	fi

	# export of the instance: the same client checks as the emulated device (edu-like, RESET, BAR0
	# trapped), then remove while a client is connected: the device request makes export end the session
	# and exit 0, and the remove returns
	# shellcheck disable=SC2086 # $force (from /init): the boot's IOMMU path, as for the real devices
	if start_proxy bridge export "$BR_DEV" --seccomp ${force:-}; then
		[ -n "${want:-}" ] && check_iommu_path bridge "$want"
		client bridge --kind emulated
		timeout "$CHECK_TIMEOUT" vm-bridge --socket /tmp/bridge.sock --label bridge --device-checks 2>&1 |
			tee -a "$RESULTS"
		vm-bridge --socket /tmp/bridge.sock --label bridge --wait-closed 30 >/tmp/br-held.log 2>&1 &
		held=$!
		br_wait 50 grep -q "connected" /tmp/br-held.log
		t0=$(now_ms)
		if br_remove bridge.remove-while-served; then
			wait "$PROXY_PID"
			rc=$?
			wait "$held"
			hrc=$?
			if [ $rc = 0 ] && [ $hrc = 0 ] && grep -q "asks for $BR_UUID back" /tmp/bridge.log; then
				echo "MEASURE bridge.remove-while-served $(($(now_ms) - t0)) ms"
				pass bridge.remove-while-served
			else
				fail bridge.remove-while-served "export exit $rc (want 0), client exit $hrc (want 0: closed by the server):"
				dump /tmp/bridge.log
				dump /tmp/br-held.log
			fi
		fi
		PROXY_PID=
		br_create bridge.create-again || return 0
	fi

	# the netlink control (tests/vm/bridge_ctl_checks.sh), its fault checks seen through export + vm-trust
	bridge_ctl_checks

	# 20 create/remove cycles: the type's count comes back, nothing is left behind
	i=0
	while [ $i -lt 20 ]; do
		br_remove bridge.cycles || return 0
		br_create bridge.cycles || return 0
		i=$((i + 1))
	done
	pass bridge.cycles

	br_remove bridge.remove || return 0
	if [ "$(cat "$BR_TYPE/available_instances")" = "$avail0" ]; then
		pass bridge.remove
	else
		fail bridge.remove "$(cat "$BR_TYPE/available_instances") instances available after the remove, $avail0 before"
	fi

	# an instance left for rmmod to remove
	br_create bridge.rmmod || return 0
	if rmmod vup_bridge 2>/tmp/br.err && br_gone /sys/class/mdev_bus/vup_bridge && br_gone "$BR_DEV"; then
		pass bridge.rmmod
	else
		fail bridge.rmmod "rmmod vup_bridge: $(cat /tmp/br.err); parent or instance left"
	fi
}
