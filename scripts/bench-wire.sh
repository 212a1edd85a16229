#!/usr/bin/env bash
# Builds ratelimitd and runs the wire benchmark: per-packet cost of ratelimitd's XDP program next
# to trivial XDP programs, nftables meters and iptables-legacy hashlimit (BPF_PROG_RUN with live
# frames on an interface in a namespace of its own), accuracy of each on a veth pair, and the
# daemon's control plane and memory. Writes BUILD/bench/wire.md (Markdown, also printed) and
# BUILD/bench/wire.png (gnuplot chart). Needs root; everything runs in namespaces it creates.
# For steady figures, run it on an otherwise idle machine.
#
#   scripts/bench-wire.sh [--save] [live_bench options: --frames N --runs N --cpu N
#                          --accuracy-seconds S --rows REGEX --no-accuracy --no-control-plane
#                          --only-rule-scale]
#
# --only-rule-scale runs the control-plane-at-scale rows alone (rules and tracked sources by the
# hundred thousand; no per-packet or accuracy rows).
#
# --save also copies the table and the chart to tests/bench/results/. BUILD_DIR (default build)
# names the build directory. --rows REGEX measures only the per-packet rows whose name it finds:
#
#   scripts/bench-wire.sh --rows "source rotator" --no-accuracy --no-control-plane
#
# measures the spoofed-flood rows (a new source every frame) and their targets alone.
set -euo pipefail
cd "$(dirname "$0")/.."

save=false
args=()
for arg in "$@"; do
  if [[ $arg == --save ]]; then save=true; else args+=("$arg"); fi
done

build=${BUILD_DIR:-build}
scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target live_bench ratelimitd >/dev/null

out="$build/bench"
mkdir -p "$out"
{
  "$build/tests/bench/live_bench" --plot "$out/wire.dat" "${args[@]}"
  shown=""
  for arg in "${args[@]}"; do # an argument with a space in quotes, as it was typed
    if [[ $arg == *" "* ]]; then shown+=" \"$arg\""; else shown+=" $arg"; fi
  done
  printf '\nReproduce: `sudo scripts/bench-wire.sh%s`; measured %s.\n' \
    "$shown" "$(date -u +%Y-%m-%d)"
} | tee "$out/wire.md"

# One horizontal bar per row, top to bottom in table order, coloured by path.
gnuplot <<EOF
set terminal pngcairo size 1000,520 font "sans,10"
set output "$out/wire.png"
set title "ns per packet, BPF_PROG_RUN with live frames (lower is better)" noenhanced
set style fill solid 0.85 border -1
set ytics noenhanced nomirror
set yrange [] reverse
set xlabel "ns per packet"
set xrange [0:*]
set grid xtics
set lmargin 52
set key top right
set offsets 0, graph 0.08, 0, 0
plot "$out/wire.dat" using (\$2/2):0:(\$2/2):(0.35):(\$3 + 1):ytic(1) with boxxyerror lc variable notitle, \
     "" using 2:0:(sprintf(" %.0f", \$2)) with labels left notitle, \
     keyentry with boxes lc 1 title "drop", \
     keyentry with boxes lc 2 title "pass (+ stack)", \
     keyentry with boxes lc 3 title "new source each packet"
EOF

if $save; then
  cp "$out/wire.md" "$out/wire.png" tests/bench/results/
  echo "saved to tests/bench/results/" >&2
fi
