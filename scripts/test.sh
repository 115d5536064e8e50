#!/usr/bin/env bash
# Install, build, and run every test (CTest: unit, integration, fault, dashboard), then the fuzz
# smoke (scripts/fuzz.sh smoke: corpora replayed plus a short fuzz of every target). Exit status
# is nonzero when either fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
(cd "$build" && ctest --output-on-failure -j2 --timeout 900)
if [ "${QFARM_SKIP_FUZZ:-0}" != "1" ]; then
  "$root/scripts/fuzz.sh" smoke
fi
