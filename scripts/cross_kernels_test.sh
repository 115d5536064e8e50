#!/usr/bin/env bash
# Cross-builds the kernel testers for AArch64 and runs them under QEMU user mode:
#   scripts/cross_kernels_test.sh [BUILD_DIR] [gtest args...]    (default BUILD_DIR: build-kernels-arm)
# Exits 0 with a notice when aarch64-linux-gnu-g++ or qemu-aarch64-static is missing, so CI on a
# machine without them skips instead of failing. QFARM_JOBS sets the build parallelism (default 2).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$src/build-kernels-arm}"
shift || true
for tool in aarch64-linux-gnu-g++ qemu-aarch64-static; do
  if ! command -v "$tool" > /dev/null; then
    echo "cross_kernels_test: skipped ($tool not found)"
    exit 0
  fi
done
"$src/scripts/cross_build_aarch64.sh" "$out" kernels_tests qfarm-runner
exec qemu-aarch64-static -cpu max "$out/kernels_tests" "$@"
