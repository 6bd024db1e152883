#!/usr/bin/env bash
# The sanitizer lane: the engine's tests (CPU and Vulkan on whatever device there is, lavapipe in
# CI) built with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan, without the app.
# Any ASan or UBSan report fails the test that made it. Extra arguments go to CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTATESCOPE_BUILD_APP=OFF -DSTATESCOPE_NATIVE=ON \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan --parallel "$(nproc)"
# Leaks inside the Vulkan driver (Mesa allocates once per process and keeps it) are not ours:
# tools/lsan-suppressions.txt names them. Everything else is reported.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/tools/lsan-suppressions.txt:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-asan --output-on-failure --timeout 1800 "$@"
