#!/usr/bin/env bash
# Cross-builds the portable core (model IR, reference emulator, qfarm-golden) for aarch64.
#   scripts/cross_build_aarch64.sh BUILD_DIR
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: cross_build_aarch64.sh BUILD_DIR}"
cmake -S "$src" -B "$out" -G Ninja -DQFARM_PORTABLE_ONLY=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-toolchain.cmake" > "$out.configure.log" 2>&1 \
  || { cat "$out.configure.log"; exit 1; }
cmake --build "$out" --target qfarm-golden
