#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (address and undefined-behaviour sanitizers, in a build
# directory of their own, so the normal build is untouched) and runs each for a while, starting
# from the seed corpora in tests/fuzz/corpus/ and keeping what it finds in CORPUS/TARGET. A crash
# leaves its input in CORPUS/TARGET-crashes/ and makes the script fail: make it a regression test.
#
#   scripts/fuzz.sh [--time SECONDS (60)] [--corpus DIR (build-fuzz/corpus)]
#                   [--build-dir DIR (build-fuzz)] [--build-only] [TARGET...]
#   TARGET: config (the config parser), state (the runtime rule file), protocol (the control
#   protocol's decoders); all three by default.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60 build=build-fuzz corpus="" build_only=0 targets=()
while (($#)); do
  case $1 in
    --time) seconds=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    config|state|protocol) targets+=("$1"); shift ;;
    *) echo "usage: $0 [--time S] [--corpus DIR] [--build-dir DIR] [--build-only] [config|state|protocol...]" >&2
       exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(config state protocol)
corpus=${corpus:-$build/corpus}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRATELIMITD_FUZZ=ON \
  -DBUILD_TESTING=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]/%/_fuzz}" >/dev/null
((build_only)) && exit 0

status=0
for target in "${targets[@]}"; do
  mkdir -p "$corpus/$target" "$corpus/$target-crashes"
  echo "fuzz $target for ${seconds}s (corpus $corpus/$target)"
  # New inputs go to the first directory; the committed seeds are only read. A 1 MiB input is
  # room for deep nesting and long lists; 10 s per input catches a hang or a quadratic path
  # without failing on a machine whose CPUs are shared (a 70-byte input once took 2 s there).
  if ! "$build/tests/fuzz/${target}_fuzz" "$corpus/$target" "tests/fuzz/corpus/$target" \
      -max_total_time="$seconds" -max_len=1048576 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$corpus/$target-crashes/" -print_final_stats=1 2>"$corpus/$target.log"; then
    echo "fuzz $target FAILED; the input is in $corpus/$target-crashes/, the log in $corpus/$target.log" >&2
    tail -n 40 "$corpus/$target.log" >&2
    status=1
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$corpus/$target.log" | tr '\n' ' '
    echo
  fi
done
exit $status
