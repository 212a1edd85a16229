#!/usr/bin/env bash
# Builds ratelimitd and prints the data-path benchmark: ns per packet of the XDP program under
# BPF_PROG_TEST_RUN on one pinned CPU, against a parse-only baseline measured in the same run.
# Needs root. For steady figures, run it on an otherwise idle machine.
#
# `json` instead prints what reading JSON costs (configs of 100k and 1M rules, the runtime rule file,
# a 1 MiB file of nesting refused), in CPU time and peak RSS; no root needed.
#
#   scripts/bench.sh [--repeat N] [--runs N] [--new-sources N]
#   scripts/bench.sh json [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."

bench=xdp_bench
if [[ ${1:-} == json ]]; then
  bench=json_bench
  shift
fi
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)" --target "$bench" >/dev/null
"build/tests/bench/$bench" "$@"
