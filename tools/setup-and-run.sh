#!/usr/bin/env bash
# The README's run command: installs the Debian packages, builds, and runs Statescope on the
# bundled demonstration model (assets/models/mqar-deltanet, a DeltaNet trained on associative
# recall) with a sample of its task. Extra arguments are passed to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-debian-deps.sh
tools/build.sh
if [ -x build/app/statescope ]; then
  exec build/app/statescope "$@"
fi
# A build without the desktop app (STATESCOPE_BUILD_APP=OFF): show the model through the command line.
build/app/statescope-cli info assets/models/mqar-deltanet
exec build/app/statescope-cli task assets/models/mqar-deltanet --samples 100 "$@"
