#!/usr/bin/env bash
# Install, build, and run every test (CTest). Exit status is CTest's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j2 --timeout 900
