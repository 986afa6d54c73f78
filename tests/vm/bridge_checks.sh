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

	# export of the instance, the same client checks as the emulated device (edu-like, RESET, BAR0 trapped)
	# (an export that refuses the path exits at once; one that takes it is stopped after 2 s)
	timeout 2 vfio-user-proxy export "$BR_DEV" --socket-path /tmp/br-try.sock >/tmp/br-export.log 2>&1
	if ! grep -q "names no PCI device" /tmp/br-export.log; then
		if start_proxy bridge export "$BR_DEV" --seccomp; then
			client bridge --kind emulated
			# destroy while a client is connected: the device request makes export let go
			br_remove bridge.remove-while-served && pass bridge.remove-while-served
			wait "$PROXY_PID"
			echo "INFO bridge: export exited with $? after the remove"
			PROXY_PID=
			br_create bridge.create-again || return 0
		fi
	else
		skip bridge.export "export does not take an mdev yet: $(head -n 1 /tmp/br-export.log)"
	fi

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
