#!/usr/bin/env bash
# Quick start: install, build, and run the main job (farmctl nightly --local) on this machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build.sh"
"${BUILD_DIR:-$root/build}/cli/farmctl" nightly --local --db "${QFARM_DB:-farm.db}"
