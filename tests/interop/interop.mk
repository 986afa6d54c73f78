# tests/interop/interop.mk: `make interop-test`: QEMU's vfio-user-pci client (Debian sid's QEMU >= 10.1) against the proxy, without and with a guest; included by the Makefile, appended to CHECK_TARGETS.
#
#   make interop-test                                  every scenario (handshake shared private reboot kill
#                                                      handover-shared handover-private)
#   make interop-test INTEROP_SCENARIOS="shared kill"  some of them
#   VUP_CACHE=DIR         cache of sid's QEMU, the guest kernel and its headers (default /var/cache/vfio-user-proxy)
#   INTEROP_TIMEOUT=SECONDS   one guest boot to its report (default 300)
#   INTEROP_PROXY_ARGS=...    options for `vfio-user-proxy emulate` (default --seccomp)
# The proxy is built optimised in its own directory (the figures are about it, and other benches
# may build $(BUILD) at the same time); logs, the guest module and initramfs go to build/interop/run.
INTEROP_SAVED_GOAL := $(.DEFAULT_GOAL)
INTEROP_BUILD := build/interop
INTEROP_PROXY := $(INTEROP_BUILD)/vfio-user-proxy
INTEROP_SCENARIOS ?=
# The proxy runs confined, as it should in production: QEMU's whole flow must pass the seccomp allowlist.
INTEROP_PROXY_ARGS ?= --seccomp

.PHONY: interop-test interop-proxy
CHECK_TARGETS += interop-test

interop-proxy:
	@$(MAKE) --no-print-directory BUILD_TYPE=rel BUILD=$(INTEROP_BUILD) $(INTEROP_PROXY)

interop-test: interop-proxy
	INTEROP_PROXY_ARGS='$(INTEROP_PROXY_ARGS)' tests/interop/run.sh --proxy $(INTEROP_PROXY) --out $(INTEROP_BUILD)/run $(INTEROP_SCENARIOS)

.DEFAULT_GOAL := $(INTEROP_SAVED_GOAL)
