# Makefile: builds the userspace proxy, its client library and the tests into $(BUILD); the kernel module builds through Kbuild.
BUILD_TYPE ?= dbg
BUILD ?= build/$(BUILD_TYPE)
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= gcc

PKGS := json-c libseccomp libkmod libudev libnl-genl-3.0 libsystemd
DEPS_CFLAGS := $(shell pkg-config --cflags $(PKGS))
DEPS_LIBS := $(shell pkg-config --libs $(PKGS))
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -D_GNU_SOURCE -Iinclude -Iproxy $(DEPS_CFLAGS) -MMD -MP
ifeq ($(BUILD_TYPE),dbg)
  CFLAGS_MODE := -O0 -g3
else ifeq ($(BUILD_TYPE),rel)
  CFLAGS_MODE := -O2 -g -DNDEBUG
else ifeq ($(BUILD_TYPE),asan)
  CFLAGS_MODE := -O1 -g3 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS_MODE := -fsanitize=address,undefined
else
  $(error BUILD_TYPE must be dbg, rel or asan)
endif
ALL_CFLAGS := $(CFLAGS_COMMON) $(CFLAGS_MODE) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(LDFLAGS_MODE) $(LDFLAGS)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
ALL_CFLAGS += -DPROXY_VERSION=\"$(VERSION)\"

# The proxy's code, minus main.c, is a static library the tests link against.
CORE_SRCS := $(wildcard proxy/server/*.c proxy/backend/*.c proxy/model/*.c proxy/util/*.c)
CLIENT_SRCS := $(wildcard proxy/client/*.c)
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
CLIENT_OBJS := $(CLIENT_SRCS:%.c=$(BUILD)/%.o)
CLI_SRCS := $(wildcard proxy/cli/*.c)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/proxy/main.o

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
TEST_HELPER_SRCS := $(wildcard tests/common/*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
INTEG_BINS := $(INTEG_SRCS:%.c=$(BUILD)/%)
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(BUILD)/%.o)

PROXY := $(BUILD)/vfio-user-proxy
LIBCORE := $(BUILD)/libproxy-core.a
LIBCLIENT := $(BUILD)/libvfio-user-client.a
LIBCLI := $(BUILD)/libproxy-cli.a

# Each test bench under tests/ may bring a .mk with its own targets; it appends to CHECK_TARGETS what
# `make check` (the README's test command, run by CI) must run as well.
CHECK_TARGETS :=
-include $(wildcard tests/*/*.mk)
.DEFAULT_GOAL := all

.PHONY: all test unit-test integration-test asan check demo install clean tests
all: $(PROXY) $(LIBCLIENT)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCORE): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIBCLIENT): $(CLIENT_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The commands (everything of the command line but main.c), a library too so unit tests reach them.
$(LIBCLI): $(CLI_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(PROXY): $(MAIN_OBJ) $(LIBCLI) $(LIBCLIENT) $(LIBCORE)
	$(CC) $(ALL_LDFLAGS) -o $@ $(MAIN_OBJ) $(LIBCLI) $(LIBCLIENT) $(LIBCORE) $(DEPS_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJS) $(LIBCLI) $(LIBCLIENT) $(LIBCORE)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJS) $(LIBCLI) $(LIBCLIENT) $(LIBCORE) $(DEPS_LIBS) $(CMOCKA_LIBS)

# The fake VFIO kernel defines ioctl() for its whole binary: only the VFIO backend's tests link it.
FAKE_VFIO_OBJS := $(BUILD)/tests/unit/fake_vfio.o $(BUILD)/tests/unit/fake_vfio_fixture.o
FAKE_VFIO_BINS := $(addprefix $(BUILD)/tests/unit/,test_vfio_backend test_vfio_iommufd test_vfio_clients test_vfio_request test_vfio_handover)
$(FAKE_VFIO_BINS): $(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(FAKE_VFIO_OBJS) $(TEST_HELPER_OBJS) $(LIBCLIENT) $(LIBCORE)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(FAKE_VFIO_OBJS) $(TEST_HELPER_OBJS) $(LIBCLIENT) $(LIBCORE) $(DEPS_LIBS) $(CMOCKA_LIBS)

tests: $(UNIT_BINS) $(INTEG_BINS) $(PROXY)

# Host tests: cmocka unit tests, then integration tests that start the real proxy process (confined by
# its seccomp filter, the default), then the integration tests again with the proxy unconfined.
test: tests
	@PROXY_BIN=$(abspath $(PROXY)) tests/run-host-tests.sh $(UNIT_BINS) $(INTEG_BINS)
ifneq ($(BUILD_TYPE),asan)
	@echo "== integration tests again, proxy unconfined (--no-seccomp; the ASan pass runs unconfined anyway)"
	@PROXY_BIN=$(abspath $(PROXY)) PROXY_ARGS=--no-seccomp tests/run-host-tests.sh $(INTEG_BINS)
endif

unit-test: $(UNIT_BINS)
	@tests/run-host-tests.sh $(UNIT_BINS)

integration-test: $(INTEG_BINS) $(PROXY)
	@PROXY_BIN=$(abspath $(PROXY)) tests/run-host-tests.sh $(INTEG_BINS)

# The same host tests under AddressSanitizer and UBSan.
asan:
	$(MAKE) BUILD_TYPE=asan test

# Every test this machine can run: the host tests, plain and sanitized.
check: test asan $(CHECK_TARGETS)

# The main job on its embedded default: the emulated device, described by probe.
demo: $(PROXY)
	scripts/demo.sh $(PROXY)

# Where udev, systemd and bash-completion look for rules, units, sysusers and tmpfiles entries and
# completions: as their pkg-config files say (the udev, systemd and bash-completion packages), else
# Debian's places.
pc_var = $(or $(shell pkg-config --variable=$(2) $(1) 2>/dev/null),$(3))
UDEVDIR ?= $(call pc_var,udev,udevdir,/lib/udev)
SYSTEMDUNITDIR ?= $(call pc_var,systemd,systemdsystemunitdir,/lib/systemd/system)
SYSUSERSDIR ?= $(call pc_var,systemd,sysusersdir,/usr/lib/sysusers.d)
TMPFILESDIR ?= $(call pc_var,systemd,tmpfilesdir,/usr/lib/tmpfiles.d)
BASHCOMPDIR ?= $(call pc_var,bash-completion,completionsdir,/usr/share/bash-completion/completions)
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
# The bridge's source for DKMS, as dkms.conf names it (PACKAGE_NAME-PACKAGE_VERSION).
DKMSSRCDIR ?= $(PREFIX)/src/vfio-user-proxy-bridge-$(VERSION)

# Everything but the bridge's source: install-proxy (the program, its udev rule, unit, sysusers and
# tmpfiles entries, manual pages, bash completion) and install-dev (the client library, its headers
# and pkg-config file).
.PHONY: install-proxy install-dev install-dkms
install: install-proxy install-dev

install-proxy: $(PROXY)
	install -D -m 0755 $(PROXY) $(DESTDIR)$(BINDIR)/vfio-user-proxy
	install -D -m 0644 udev/70-vfio-user-proxy.rules $(DESTDIR)$(UDEVDIR)/rules.d/70-vfio-user-proxy.rules
	@mkdir -p $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' udev/vfio-user-proxy@.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/vfio-user-proxy@.service
	install -D -m 0644 udev/vfio-user-proxy.sysusers $(DESTDIR)$(SYSUSERSDIR)/vfio-user-proxy.conf
	install -D -m 0644 udev/vfio-user-proxy.tmpfiles $(DESTDIR)$(TMPFILESDIR)/vfio-user-proxy.conf
	install -D -m 0644 doc/vfio-user-proxy.8 $(DESTDIR)$(MANDIR)/man8/vfio-user-proxy.8
	install -D -m 0644 doc/vfio-user-proxy.conf.5 $(DESTDIR)$(MANDIR)/man5/vfio-user-proxy.conf.5
	install -D -m 0644 completion/vfio-user-proxy $(DESTDIR)$(BASHCOMPDIR)/vfio-user-proxy

install-dev: $(LIBCLIENT)
	install -D -m 0644 $(LIBCLIENT) $(DESTDIR)$(LIBDIR)/libvfio-user-client.a
	install -D -m 0644 include/vfio-user.h $(DESTDIR)$(INCLUDEDIR)/vfio-user-proxy/vfio-user.h
	install -D -m 0644 proxy/client/client.h $(DESTDIR)$(INCLUDEDIR)/vfio-user-proxy/client.h
	@mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' proxy/client/vfio-user-client.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/vfio-user-client.pc

# The bridge's source tree for DKMS (`dkms install vfio-user-proxy-bridge/$(VERSION)` builds it for a
# kernel): what `make module` copies, with dkms.conf at its top, its version filled in.
install-dkms:
	@mkdir -p $(DESTDIR)$(DKMSSRCDIR)
	cp --parents $(MODULE_SRCS) $(DESTDIR)$(DKMSSRCDIR)/
	sed 's|#MODULE_VERSION#|$(VERSION)|' bridge/dkms.conf >$(DESTDIR)$(DKMSSRCDIR)/dkms.conf
	chmod -R u=rwX,go=rX $(DESTDIR)$(DKMSSRCDIR)

# The bridge kernel module (Kbuild): its sources copied into $(BUILD)/module/<kernel release>/ and built
# there with W=1 against KDIR (a kernel build or headers directory), so no build output lands in the
# tree; any warning in the build log fails it. Prints the .ko path last. BTF for modules needs the
# kernel's vmlinux, which a headers package lacks: it is skipped.
KDIR ?= /lib/modules/$(shell uname -r)/build
MODULE_SRCS := Kbuild $(wildcard bridge/*.c bridge/*.h) include/edu_model.h include/vup_bridge.h \
	proxy/model/edu_model.c
.PHONY: module
module:
	@test -f "$(KDIR)/Makefile" || { echo "make module: KDIR=$(KDIR) is no kernel build directory" >&2; exit 1; }
	@rel=$$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$$/\1/p' "$(KDIR)/include/generated/utsrelease.h" 2>/dev/null) && \
	[ -n "$$rel" ] || { echo "make module: no kernel release in $(KDIR)/include/generated/utsrelease.h" >&2; exit 1; } && \
	dir=$(abspath $(BUILD))/module/$$rel && mkdir -p "$$dir" && \
	cp --parents -u $(MODULE_SRCS) "$$dir/" && \
	{ $(MAKE) -C "$(KDIR)" M="$$dir" W=1 CONFIG_DEBUG_INFO_BTF_MODULES= modules >"$$dir/build.log" 2>&1; \
	  rc=$$?; cat "$$dir/build.log" >&2; } && \
	if [ $$rc -ne 0 ]; then echo "make module: the build failed (log: $$dir/build.log)" >&2; exit 1; fi && \
	if grep -Ei '(warning|error)[: ]' "$$dir/build.log" >&2; then \
		echo "make module: the build log has warnings (log: $$dir/build.log)" >&2; exit 1; fi && \
	echo "$$dir/vup_bridge.ko"

clean:
	rm -rf build

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
.SECONDARY:
