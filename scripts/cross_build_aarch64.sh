#!/usr/bin/env bash
# Cross-builds the portable core for aarch64 (static): the emulator's qfarm-golden, the kernel
# testers (kernels_tests) and the device runner (qfarm-runner).
#   scripts/cross_build_aarch64.sh BUILD_DIR [TARGET...]      (default target: qfarm-golden)
# QFARM_JOBS sets the build parallelism (default 2: the build machines are small and shared).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: cross_build_aarch64.sh BUILD_DIR [TARGET...]}"
shift
targets=("${@:-qfarm-golden}")
mkdir -p "$out"
cmake -S "$src" -B "$out" -G Ninja -DQFARM_PORTABLE_ONLY=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-toolchain.cmake" > "$out.configure.log" 2>&1 \
  || { cat "$out.configure.log"; exit 1; }
cmake --build "$out" --parallel "${QFARM_JOBS:-2}" --target "${targets[@]}"
