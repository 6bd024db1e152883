#!/usr/bin/env bash
# The README's test command: installs the Debian packages, builds everything and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-debian-deps.sh
tools/build.sh
ctest --test-dir build --output-on-failure --timeout 1800
