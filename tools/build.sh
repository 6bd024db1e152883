#!/usr/bin/env bash
# Configures and builds Statescope into ./build (Release) for this machine's CPU (-march=native).
# In CI (CI=true) warnings are errors. Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTATESCOPE_NATIVE=ON -DSTATESCOPE_WERROR="$werror" "$@" >/dev/null
cmake --build build --parallel "$(nproc)"
