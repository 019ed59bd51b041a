# The two commands that matter: `make run` and `make test`. Everything else is for developers.
BUILD ?= build
ASAN_BUILD ?= build-asan
BENCH_BUILD ?= build-bench
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# `make fuzz`: the route fuzzer (tests/api/test_fuzz_routes.c) with a longer budget than `make test`
# gives it, on a new seed each time unless FUZZ_SEED is set, then the libFuzzer harnesses' build.
FUZZ_REQUESTS ?= 300000
FUZZ_SEED ?= $(shell date +%s)

.PHONY: all deps run test asan bench fuzz fuzz-routes docs clean

all: $(BUILD)/mopay

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

$(BUILD)/mopay: $(BUILD)/Makefile FORCE
	cmake --build $(BUILD) -j $(JOBS)

FORCE:

deps:
	@scripts/deps.sh

run: deps all
	@scripts/run.sh $(BUILD)/mopay

test: deps all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMOPAY_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		ctest --output-on-failure -j $(JOBS)

bench: deps
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BENCH_BUILD) -j $(JOBS)
	bench/run-all.sh $(BENCH_BUILD)

fuzz-routes: deps all
	MOPAY_FUZZ_SEED=$(FUZZ_SEED) MOPAY_FUZZ_REQUESTS=$(FUZZ_REQUESTS) $(BUILD)/tests/api/test_fuzz_routes $(BUILD)/mopay sqlite

fuzz: fuzz-routes
	scripts/deps.sh fuzz
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DMOPAY_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS)

docs: all
	scripts/gen-docs.sh $(BUILD)/mopay docs/api.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD) build-fuzz
