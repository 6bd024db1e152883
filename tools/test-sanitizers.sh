#!/usr/bin/env bash
# The sanitizer lane: the engine's tests (CPU and Vulkan on whatever device there is, lavapipe in
# CI), the frame layer's and the CLI's, and the fuzz targets' corpus replays, built with
# AddressSanitizer + UndefinedBehaviorSanitizer into build-asan, without the app (its tests need
# a display and VTK, and the lane has to fit CI's time). .ci/run runs it after the normal suite
# (tools/setup-and-test.sh). Any ASan, LeakSanitizer or UBSan report fails the test that made it;
# a canary checks first that a leak and undefined behaviour do fail a program built this way.
# Extra arguments go to CTest. Left to the normal suite: the *_syncval tests (the layer's
# synchronization validation under ASan would double the lane for no new finding) and test_task
# (task accuracies over thousands of samples: minutes of the forward passes that
# test_reference_models already runs under the sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# The ASan runtime linked in, so that a library can be preloaded before it (below).
link="-fsanitize=address,undefined -static-libasan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTATESCOPE_BUILD_APP=OFF -DSTATESCOPE_NATIVE=ON \
  -DCMAKE_CXX_FLAGS="$sanitize" -DCMAKE_EXE_LINKER_FLAGS="$link" "${launcher[@]}" >/dev/null
cmake --build build-asan --parallel "$(nproc)"

# Leaks inside the Vulkan driver (Mesa allocates once per process and keeps it) are not ours:
# tools/lsan-suppressions.txt names them. Everything else is reported.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/tools/lsan-suppressions.txt:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Sanitized code runs a few times slower: QtTest's watchdog (5 minutes per test function by
# default) would kill a slow function as a crash.
export QTEST_FUNCTION_TIMEOUT=1800000

# The Vulkan driver and layer stay mapped until exit (tools/keep-vulkan-loaded.c says why).
cc -shared -fPIC -O1 tools/keep-vulkan-loaded.c -o build-asan/keep-vulkan-loaded.so -ldl
export LD_PRELOAD="$PWD/build-asan/keep-vulkan-loaded.so"

# The canary: a leak and a signed overflow, each built with the lane's flags, must fail.
canary=build-asan/sanitizer-canary
mkdir -p "$canary"
printf 'int* volatile kept;\nint main() { kept = new int[4]; kept = nullptr; return 0; }\n' >"$canary/leak.cpp"
printf '#include <climits>\n#include <cstdlib>\nint main(int argc, char**) { int x = INT_MAX - 1 + argc; return x + argc > 0 ? 0 : 1; }\n' >"$canary/ub.cpp"
for c in leak ub; do
  c++ $sanitize $link -O1 "$canary/$c.cpp" -o "$canary/$c"
  if "$canary/$c" >"$canary/$c.log" 2>&1; then
    echo "sanitizer lane: the $c canary passed: the sanitizers would not fail a test ($canary/$c.log)" >&2
    exit 1
  fi
done
echo "sanitizer lane: the leak and UB canaries fail as they must"

ctest --test-dir build-asan --output-on-failure --timeout 1800 -E '(_syncval|^test_task)$' "$@"
echo "sanitizer lane: green in $(( $(date +%s) - start )) s"
