# tests/torture/torture.mk: `make torture` (1000 clients vanishing at random points against the real proxy) and its CI pass `torture-smoke`.
TORTURE_SAVED_GOAL := $(.DEFAULT_GOAL)

TORTURE_CLIENTS ?= 1000
TORTURE_SMOKE_CLIENTS ?= 100
TORTURE_BATCH ?= 50
TORTURE_SEED ?=
TORTURE_PROXY_ARGS ?=
TORTURE_BIN := $(BUILD)/tests/torture/torture
TORTURE_ARGS = --clients $(TORTURE_CLIENTS) --batch $(TORTURE_BATCH) $(if $(TORTURE_SEED),--seed $(TORTURE_SEED)) \
	--keep-log $(BUILD)/torture-proxy.log $(if $(TORTURE_PROXY_ARGS),-- $(TORTURE_PROXY_ARGS))

.PHONY: torture torture-smoke
CHECK_TARGETS += torture-smoke

# Against $(BUILD)'s proxy: `make torture BUILD_TYPE=asan` runs it under ASan+UBSan (any report fails the run).
torture: $(TORTURE_BIN) $(PROXY)
	PROXY_BIN=$(abspath $(PROXY)) $(TORTURE_BIN) $(TORTURE_ARGS)

# CI: the short run under ASan+UBSan, in its own build directory so that it never races `make asan`.
torture-smoke:
	$(MAKE) BUILD_TYPE=asan BUILD=build/torture-asan TORTURE_CLIENTS=$(TORTURE_SMOKE_CLIENTS) torture

.DEFAULT_GOAL := $(TORTURE_SAVED_GOAL)
