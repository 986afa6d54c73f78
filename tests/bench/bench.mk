# bench.mk: `make bench` builds the proxy and the benchmark optimised (BUILD_TYPE=rel, in $(BENCH_BUILD)) and runs it; `bench-smoke` runs its short mode for `make check`.
BENCH_BUILD ?= build/bench
BENCH_ARGS ?=
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o)
BENCH_BIN := $(BUILD)/tests/bench/vup-bench

.PHONY: bench bench-smoke bench-bin
$(BENCH_BIN): $(BENCH_OBJS) $(LIBCLIENT) $(LIBCORE)
	$(CC) $(ALL_LDFLAGS) -o $@ $(BENCH_OBJS) $(LIBCLIENT) $(LIBCORE) $(DEPS_LIBS) -lm

bench-bin: $(BENCH_BIN) $(PROXY)

# Whatever the caller's BUILD_TYPE, the figures come from optimised binaries in their own directory.
bench:
	$(MAKE) BUILD_TYPE=rel BUILD=$(BENCH_BUILD) bench-bin
	$(BENCH_BUILD)/tests/bench/vup-bench --proxy $(BENCH_BUILD)/vfio-user-proxy $(BENCH_ARGS)

bench-smoke:
	$(MAKE) BENCH_ARGS=--short bench

CHECK_TARGETS += bench-smoke
