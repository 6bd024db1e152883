#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, into build-fuzz) and runs
# each for SECONDS_PER_TARGET (default 60), one after another, starting from the committed seed
# and regression corpora; prints each target's executions and coverage at the end.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: every target)
#
# New interesting inputs go to build-fuzz/corpus/<target> (not committed), crashes, leaks and
# timeouts to build-fuzz/artifacts/<target>/ with the log in build-fuzz/logs/<target>.log. A
# crashing input, once fixed, belongs in tests/fuzz/regressions/<target>/ (CTest replays it).
# Runs at the lowest CPU priority; FUZZ_JOBS=N runs N targets at a time (default 1).
# Exit status 1 when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
all_targets=(json safetensors checkpoint tokenizer_load tokenizer_encode rwkv_vocab session pth)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

# Shader tools run during the build are instrumented too; their leaks at exit are not findings.
export ASAN_OPTIONS="detect_leaks=0"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DSTATESCOPE_FUZZ=ON -DSTATESCOPE_BUILD_TESTS=OFF -DSTATESCOPE_BUILD_APP=OFF \
  -DSTATESCOPE_SHARED_DIR="${STATESCOPE_SHARED_DIR:-$PWD/../shared}" "${launcher[@]}" >/dev/null
nice -n 19 cmake --build build-fuzz --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p build-fuzz/logs
fuzz_one() {
  local t="$1" seeds=(tests/fuzz/corpus/"$1")
  [ -d tests/fuzz/regressions/"$t" ] && seeds+=(tests/fuzz/regressions/"$t")
  mkdir -p build-fuzz/corpus/"$t" build-fuzz/artifacts/"$t"
  # -timeout: an input that takes 30 s is a hang; -rss_limit_mb: one that takes 2 GB is a finding.
  nice -n 19 build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/"$t"/ \
    build-fuzz/corpus/"$t" "${seeds[@]}" >build-fuzz/logs/"$t".log 2>&1 || true
}
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "${FUZZ_JOBS:-1}" ]; then wait -n; running=$((running - 1)); fi
done
wait

status=0
printf '%-18s %12s %10s %8s %8s  %s\n' target executions exec/s cov ft findings
for t in "${targets[@]}"; do
  log=build-fuzz/logs/"$t".log
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  # Crashes, leaks, timeouts and out-of-memory inputs; slow-unit-* files are only reported.
  found=$(find build-fuzz/artifacts/"$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  [ -z "$execs" ] && found="$found (no final stats: see $log)"
  printf '%-18s %12s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$found"
  if [ "$found" != 0 ]; then status=1; fi
done
exit $status
