#!/usr/bin/env bash
# libFuzzer targets (docs/fuzzing.md): builds build-fuzz/ (clang, ASan+UBSan) and runs them.
#
#   scripts/fuzz.sh smoke              replay corpora and regressions, then FUZZ_SMOKE_S (default
#                                      20) seconds of new fuzzing per target; new inputs go to a
#                                      temporary directory, never into the repository
#   scripts/fuzz.sh long [seconds] [target...]
#                                      fuzz each target (default 600 s), then merge what found new
#                                      coverage into tests/fuzz/corpus/<target>/
#   scripts/fuzz.sh build              only configure and build
#
# A crash (or timeout, out-of-memory, leak, sanitizer report) stops the script with a nonzero
# status and prints the reproducer and the command that replays it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
mode="${1:-smoke}"
shift || true

all_targets=(onnx_fuzz tensor_file_fuzz run_spec_fuzz profile_fuzz rpc_fuzz)
common_flags=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

build_all() {
  local start=$SECONDS
  CC=clang CXX=clang++ cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"${FUZZ_JOBS:-2}"
  echo "fuzz: built in $((SECONDS - start)) s"
}

tmp="$(mktemp -d -t qfarm-fuzz.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# run TARGET LOG ARGS...: runs a fuzzer; on failure prints the reproducer and exits.
run() {
  local target="$1" log="$2"
  shift 2
  local artifacts="$build/artifacts/$target"
  mkdir -p "$artifacts"
  local marker="$tmp/marker.$target"
  touch "$marker"
  local rc=0
  "$build/$target" -artifact_prefix="$artifacts/" "${common_flags[@]}" "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] && return 0
  tail -n 60 "$log" >&2
  mkdir -p "$build/logs"
  cp "$log" "$build/logs/"
  echo "fuzz: $target FAILED (exit $rc); full log: $build/logs/$(basename "$log")" >&2
  local repro
  repro="$(find "$artifacts" -type f -newer "$marker" | head -n 1)"
  if [ -z "$repro" ]; then  # replaying a file that crashes writes no artifact: it is the reproducer
    repro="$(grep -oE 'Running: .*' "$log" | tail -n 1 | cut -d' ' -f2-)"
  fi
  if [ -n "$repro" ]; then
    echo "fuzz: reproducer: $repro" >&2
    echo "fuzz: replay:     $build/$target $repro" >&2
    echo "fuzz: keep it as a regression test: cp $repro tests/fuzz/regressions/$target/" >&2
  fi
  exit 1
}

# Replays the corpus and the regressions of a target (every file once, no mutation).
replay() {
  local target="$1" dirs=()
  for d in "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target"; do
    if [ -d "$d" ] && [ -n "$(ls -A "$d")" ]; then dirs+=("$d"); fi
  done
  [ ${#dirs[@]} -eq 0 ] && return 0
  run "$target" "$tmp/$target.replay.log" -runs=0 "${dirs[@]}"
  echo "fuzz: $target: replayed $(find "${dirs[@]}" -type f | wc -l) files"
}

# Prints the run's statistics from a log (execs/s, coverage).
stats() {
  local target="$1" log="$2"
  local execs rate cov
  execs="$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")"
  rate="$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log")"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)"
  printf 'fuzz: %-17s %8s execs  %6s execs/s  %s\n' "$target" "${execs:-?}" "${rate:-?}" "${cov:-}"
}

case "$mode" in
  build)
    build_all
    ;;
  smoke)
    seconds="${FUZZ_SMOKE_S:-20}"
    build_all
    start=$SECONDS
    targets=("$@")
    [ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
    for t in "${targets[@]}"; do replay "$t"; done
    for t in "${targets[@]}"; do
      mkdir -p "$tmp/new/$t"
      # The first directory receives new inputs; the corpus is only read.
      run "$t" "$tmp/$t.fuzz.log" -max_total_time="$seconds" "$tmp/new/$t" "tests/fuzz/corpus/$t"
      stats "$t" "$tmp/$t.fuzz.log"
    done
    echo "fuzz: smoke passed in $((SECONDS - start)) s (after the build)"
    ;;
  long)
    seconds="${1:-600}"
    shift || true
    targets=("$@")
    [ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
    build_all
    for t in "${targets[@]}"; do
      replay "$t"
      mkdir -p "$tmp/new/$t" "tests/fuzz/corpus/$t"
      run "$t" "$tmp/$t.fuzz.log" -max_total_time="$seconds" "$tmp/new/$t" "tests/fuzz/corpus/$t"
      stats "$t" "$tmp/$t.fuzz.log"
      before="$(ls "tests/fuzz/corpus/$t" | wc -l)"
      # Adds to the corpus only the new inputs that add coverage to it.
      run "$t" "$tmp/$t.merge.log" -merge=1 "tests/fuzz/corpus/$t" "$tmp/new/$t"
      echo "fuzz: $t: corpus $before -> $(ls "tests/fuzz/corpus/$t" | wc -l) files ($(du -sh "tests/fuzz/corpus/$t" | cut -f1))"
    done
    ;;
  *)
    echo "usage: $0 smoke [target...] | long [seconds] [target...] | build" >&2
    exit 2
    ;;
esac
