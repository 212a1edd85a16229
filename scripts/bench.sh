#!/usr/bin/env bash
# Builds ratelimitd and prints the data-path benchmark: ns per packet of the XDP program under
# BPF_PROG_TEST_RUN on one pinned CPU, against a parse-only baseline measured in the same run.
# Needs root. For steady figures, run it on an otherwise idle machine.
#
#   scripts/bench.sh [--repeat N] [--runs N] [--new-sources N]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)" --target xdp_bench >/dev/null
build/tests/bench/xdp_bench "$@"
