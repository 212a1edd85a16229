#!/usr/bin/env bash
# Builds ratelimitd from this checkout and runs the whole test suite: unit tests, the XDP program
# on the real kernel (BPF_PROG_TEST_RUN), and the network-namespace end-to-end tests.
# Needs root for the kernel tests; installs missing Debian packages first.
#
#   scripts/test.sh [ctest arguments, e.g. -L unit or -R Accuracy]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)"
# One test at a time: accuracy tests pin threads to every CPU and must have them to themselves.
cd build && ctest --output-on-failure "$@"
