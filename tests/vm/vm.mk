# tests/vm/vm.mk: the guest test bench: builds vm-checks and runs the VFIO checks in QEMU guests (Debian 12's 6.1, sid's kernel, and a 6.12 built with iommufd, on both IOMMU paths); included by the Makefile.
#
#   make vm-test                       every kernel, one after the other
#   make vm-test VM_KERNELS=sid        some of them (bookworm, sid, iommufd: the built 6.12, booted twice,
#                                      export on the legacy path then on iommufd; systemd: Debian 12's
#                                      systemd and udevd with the project installed; pkg: the same
#                                      with the Debian packages of `make deb` installed by apt-get, DKMS
#                                      building the bridge in the guest, then purged)
#   VUP_CACHE=DIR                      where kernels and apt state are cached (default /var/cache/vfio-user-proxy)
#   VM_TIMEOUT=SECONDS                 hard limit for one guest boot (default 420)
# Everything it builds and logs goes to $(VM_BUILD); it needs root (apt for QEMU and the kernels).
VM_BUILD := build/vm/$(BUILD_TYPE)
VM_CHECKS := $(VM_BUILD)/vm-checks
VM_TRUST := $(VM_BUILD)/vm-trust
VM_BRIDGE := $(VM_BUILD)/vm-bridge
VM_KERNELS ?= bookworm sid iommufd systemd pkg
# The systemd guest gets the project as `make install` puts it (merged /usr, as Debian 12's root has it).
VM_INSTALL := $(VM_BUILD)/install
# A static vm-checks needs nothing in the guest; sanitizer builds cannot link statically.
VM_CHECKS_LDFLAGS := $(if $(filter asan,$(BUILD_TYPE)),,-static)
# The client side needs only json-c (libudev and libkmod, the proxy's, have no static archives).
VM_CHECKS_LIBS := $(shell pkg-config --libs json-c)

.PHONY: vm-test vm-checks
CHECK_TARGETS += vm-test

vm-checks: $(VM_CHECKS) $(VM_TRUST) $(VM_BRIDGE)

# Each binary links its own objects and vm_common.o, what the three share, and proc_probe.o, what they
# share with the host tests (tests/common/, libc only).
VM_COMMON_OBJS := $(VM_BUILD)/vm_common.o $(VM_BUILD)/proc_probe.o
VM_CHECKS_OBJS := $(addprefix $(VM_BUILD)/,vm_checks.o vm_checks_regions.o vm_checks_device.o \
	vm_checks_reconnects.o vm_checks_handover.o vm_checks_direct.o) $(VM_COMMON_OBJS)
VM_TRUST_OBJS := $(VM_BUILD)/vm_trust.o $(VM_COMMON_OBJS)
VM_BRIDGE_OBJS := $(VM_BUILD)/vm_bridge.o $(VM_COMMON_OBJS)
VM_OBJS := $(sort $(VM_CHECKS_OBJS) $(VM_TRUST_OBJS) $(VM_BRIDGE_OBJS))

$(filter-out $(VM_BUILD)/proc_probe.o,$(VM_OBJS)): $(VM_BUILD)/%.o: tests/vm/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/common -c $< -o $@

$(VM_BUILD)/proc_probe.o: tests/common/proc_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(VM_CHECKS): $(VM_CHECKS_OBJS)
$(VM_TRUST): $(VM_TRUST_OBJS)
$(VM_BRIDGE): $(VM_BRIDGE_OBJS)
$(VM_CHECKS) $(VM_TRUST) $(VM_BRIDGE): $(LIBCLIENT)
	$(CC) $(ALL_LDFLAGS) $(VM_CHECKS_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBCLIENT) $(VM_CHECKS_LIBS)

# The pkg suite installs what `make deb` (tests/pkg/pkg.mk) built.
vm-test: $(PROXY) $(VM_CHECKS) $(VM_TRUST) $(VM_BRIDGE) $(if $(filter pkg,$(VM_KERNELS)),deb)
	rm -rf $(VM_INSTALL)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(VM_INSTALL)) PREFIX=/usr UDEVDIR=/usr/lib/udev \
		SYSTEMDUNITDIR=/usr/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d TMPFILESDIR=/usr/lib/tmpfiles.d
	tests/vm/run.sh --proxy $(PROXY) --checks $(VM_CHECKS) --out $(VM_BUILD) --install $(VM_INSTALL) \
		--debs $(PKG_OUT) $(VM_KERNELS)

-include $(VM_OBJS:.o=.d)
