#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds everything and runs every test,
# then the sanitizer lane (tools/test-sanitizers.sh: the engine's tests under ASan + UBSan).
# STATESCOPE_SKIP_SANITIZERS=1 skips the lane (it builds the engine and its tests once more, with
# the sanitizers, into build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-debian-deps.sh
tools/build.sh
ctest --test-dir build --output-on-failure --timeout 1800
if [ "${STATESCOPE_SKIP_SANITIZERS:-0}" = 1 ]; then
  echo "setup-and-test: sanitizer lane skipped (STATESCOPE_SKIP_SANITIZERS=1)"
else
  tools/test-sanitizers.sh
fi
