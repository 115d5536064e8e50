#!/usr/bin/env bash
# Installs every Debian 12 package qfarm needs to build, test and benchmark.
# Idempotent; run as root (or with sudo available). Nothing is installed by hand.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libonnx-dev libsqlite3-dev sqlite3 libboost-dev libfmt-dev
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libgemmlowp-dev
  g++-aarch64-linux-gnu qemu-user-static
  libdnnl-dev libxnnpack-dev libpthreadpool-dev
  chromium openssl
  clang libclang-rt-14-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

install_ort_runner() {
  # The example external runner (examples/ort-runner) runs jobs with ONNX Runtime from npm;
  # the package ships its native libraries, so no install script is needed.
  local dir; dir="$(cd "$(dirname "$0")/.." && pwd)/examples/ort-runner"
  if [ ! -d "$dir/node_modules/onnxruntime-node" ]; then
    echo "setup: installing onnxruntime-node into $dir"
    npm install --ignore-scripts --no-audit --no-fund --prefix "$dir" >/dev/null
  fi
}

if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
install_ort_runner
