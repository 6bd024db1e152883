#!/usr/bin/env bash
# The README's run command: installs the Debian packages, builds, and runs Statescope on the
# bundled model. Extra arguments are passed to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-debian-deps.sh
tools/build.sh
if [ -x build/app/statescope ]; then
  exec build/app/statescope "$@"
fi
# Until the desktop app is built, show the bundled model through the command line.
build/app/statescope-cli info assets/models/deltanet-negeig-tiny
exec build/app/statescope-cli run assets/models/deltanet-negeig-tiny --tokens 1,17,42,7,300,12 "$@"
