# vidtag — the two commands a new machine needs: `make demo` and `make test`. Both do all set-up first.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_BIN := .build/release/vidtag
DEMO_DIR ?= demo
DEMO_SEED ?= 7

.PHONY: setup build test demo bench bench-gpu-cpu clean-demo fuzz-smoke browser-test

# Installs libtorch (the torch 2.13 wheel) and Debian packages into .deps/, then builds the C shim.
setup:
	@scripts/setup.sh
	@scripts/build-shim.sh

build: setup
	$(SWIFT) build -c release --product vidtag

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

# Builds the libFuzzer targets in fuzz/ (address sanitizer on) and runs each for FUZZ_SECONDS from its
# committed seed corpus; any crash, leak, timeout or 2 GB allocation fails. See docs/results/fuzzing.md.
FUZZ_SECONDS ?= 30
fuzz-smoke: setup
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# The page of `vidtag serve` in headless Chromium (installs Debian's chromium when missing and root). Not in
# `make test` / CI: installing chromium took 1 min 48 s and the check 41 s on the shared 2-core machine.
browser-test: setup
	@scripts/browser-test.sh

# Runs the main job end to end on the built-in demo data.
demo: build
	@scripts/demo.sh "$(RELEASE_BIN)" "$(DEMO_DIR)" "$(DEMO_SEED)"

bench: setup
	@scripts/setup-reference.sh
	@bench/run-all.sh

# bench/gpu.sh (the prepared GPU benchmark) end to end on the CPU with tiny shapes, so that it works the first
# time it meets a GPU.
bench-gpu-cpu: setup
	@scripts/setup-reference.sh
	@bench/gpu.sh --build
	@bench/gpu.sh --device cpu --tiny

clean-demo:
	rm -rf "$(DEMO_DIR)"
