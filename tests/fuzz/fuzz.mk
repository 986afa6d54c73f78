# tests/fuzz/fuzz.mk: the libFuzzer harnesses (clang-14, build/fuzz), their seed corpus, `make fuzz` and the CI pass `fuzz-smoke`.
# Tools come from tests/fuzz/deps.sh (clang-14, libclang-rt-14-dev, llvm-14); nothing here installs anything.
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC ?= clang-14
FUZZ_PROFDATA ?= llvm-profdata-14
FUZZ_COV ?= llvm-cov-14
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_HARNESSES := session version handover
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# emulated.c nests a flexible-array struct (a GNU extension gcc accepts silently).
FUZZ_CFLAGS := $(CFLAGS_COMMON) -Wno-gnu-variable-sized-type-not-at-end -O1 -g -fno-omit-frame-pointer -DPROXY_VERSION=\"$(VERSION)\"
FUZZ_COV_FLAGS := -fprofile-instr-generate -fcoverage-mapping

FUZZ_CORE_OBJS := $(CORE_SRCS:%.c=$(FUZZ_BUILD)/san/%.o)
FUZZ_COV_CORE_OBJS := $(CORE_SRCS:%.c=$(FUZZ_BUILD)/cov/%.o)
FUZZ_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_COV_BINS := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/cov/fuzz_%)

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-tools fuzz-seeds fuzz-cov fuzz-regress
CHECK_TARGETS += fuzz-smoke

fuzz-tools:
	@command -v $(FUZZ_CC) >/dev/null && command -v $(FUZZ_PROFDATA) >/dev/null && \
	 test -e "$$($(FUZZ_CC) -print-runtime-dir)/libclang_rt.fuzzer-x86_64.a" || \
	 { echo "fuzz: $(FUZZ_CC) with libFuzzer is missing: run tests/fuzz/deps.sh" >&2; exit 1; }

# Sanitized objects for the harnesses (libFuzzer's edge coverage on the proxy's code).
$(FUZZ_BUILD)/san/%.o: %.c | fuzz-tools
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/san/tests/fuzz/fuzz_%.o $(FUZZ_CORE_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(DEPS_LIBS)

# The same harnesses with source-based coverage, only to replay the corpus for a line-coverage figure.
$(FUZZ_BUILD)/cov/%.o: %.c | fuzz-tools
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COV_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/cov/fuzz_%: $(FUZZ_BUILD)/cov/tests/fuzz/fuzz_%.o $(FUZZ_COV_CORE_OBJS)
	$(FUZZ_CC) $(FUZZ_COV_FLAGS) -fsanitize=fuzzer -o $@ $^ $(DEPS_LIBS)

fuzz-build: $(FUZZ_BINS)

# FUZZ_SECONDS per harness, one after the other; new inputs go to build/fuzz/corpus, crashes to build/fuzz/artifacts.
fuzz: $(FUZZ_BINS) $(FUZZ_COV_BINS)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_HARNESSES)

fuzz-smoke: $(FUZZ_BINS) $(FUZZ_COV_BINS)
	@tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BUILD) $(FUZZ_HARNESSES)

# Line coverage of the corpus as it stands (seeds plus what earlier runs found).
fuzz-cov: $(FUZZ_COV_BINS)
	@tests/fuzz/run.sh 0 $(FUZZ_BUILD) $(FUZZ_HARNESSES)

# Replays the saved crashing inputs (tests/fuzz/crashes/HARNESS-*): each must run clean once its bug is fixed.
fuzz-regress: $(FUZZ_BINS)
	@set -e; for h in $(FUZZ_HARNESSES); do \
		set -- tests/fuzz/crashes/$$h-*; [ -e "$$1" ] || continue; \
		echo "== fuzz_$$h: replaying $$# saved input(s)"; $(FUZZ_BUILD)/fuzz_$$h -runs=1 "$$@"; \
	done

# Regenerates the seed corpus from the client library's own messages (kept in the tree).
fuzz-seeds: $(BUILD)/tests/fuzz/make_seeds
	$(BUILD)/tests/fuzz/make_seeds tests/fuzz/corpus

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
