#!/usr/bin/env bash
# Fails on an #include "..." that climbs the layers: a file may include its own folder and the
# folders of lower layers, nothing else. The table is the order the README's layout section gives.
#
#   tests/layers/check_layers.sh [SOURCE_DIR]
#
# A quoted include names its folder by its first path component ("state/reconcile.hpp" is in
# state); one without a slash is in the including file's own folder, except a generated libbpf
# skeleton (NAME.skel.h), which belongs to bpf. A folder missing from the table is an error too,
# so that a new module is placed before it is used.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}

declare -A layer=(
  # 0: the BPF <-> C++ contract, untrusted text, OS plumbing
  [ratelimit]=0 [json]=0 [sys]=0
  # 1: addresses and prefixes; the XDP program (it includes only the contract)
  [net]=1 [bpf]=1
  # 2: the policy's vocabulary: rules, limits, their names and their JSON form
  [policy]=2
  # 3: the config file; the data path as the daemon drives it; the traffic generator
  [config]=3 [datapath]=3 [tools]=3
  # 4: desired state and reconcile; the control protocol and server
  [state]=4 [control]=4
  # 5: metrics; ratelimitctl
  [metrics]=5 [cli]=5
  # 6: the daemon, which wires everything
  [daemon]=6
)

folder_of() { # path relative to the root -> its folder
  case $1 in
    include/ratelimit/*) echo ratelimit ;;
    src/*) local rest=${1#src/}; echo "${rest%%/*}" ;;
    *) echo "${1%%/*}" ;;
  esac
}

status=0
complain() { echo "check_layers: $*" >&2; status=1; }

cd "$root"
while IFS= read -r file; do
  own=$(folder_of "$file")
  [[ -n ${layer[$own]+x} ]] || { complain "$file: folder '$own' is not in the layer table"; continue; }
  while IFS=: read -r line target; do
    case $target in
      */*) to=${target%%/*} ;;
      *.skel.h) to=bpf ;;
      *) to=$own ;;
    esac
    if [[ -z ${layer[$to]+x} ]]; then
      complain "$file:$line includes \"$target\": folder '$to' is not in the layer table"
    elif [[ $to != "$own" ]] && ((layer[$to] >= layer[$own])); then
      complain "$file:$line includes \"$target\": $own (layer ${layer[$own]}) may only include" \
               "lower layers, and $to is layer ${layer[$to]}"
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" |
           sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done < <(find include/ratelimit src cli bpf -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) | sort)

if ((status == 0)); then
  echo "check_layers: every include points down"
fi
exit $status
