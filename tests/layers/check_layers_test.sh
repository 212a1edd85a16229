#!/usr/bin/env bash
# The layering check must be able to fail: run it on small trees that break each of its rules.
set -euo pipefail
check=$(cd "$(dirname "$0")" && pwd)/check_layers.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

tree() { # tree NAME FILE=INCLUDE...: a tree holding each FILE, which includes INCLUDE
  local dir=$scratch/$1; shift
  mkdir -p "$dir/include/ratelimit" "$dir/src" "$dir/cli" "$dir/bpf"
  for spec in "$@"; do
    mkdir -p "$dir/$(dirname "${spec%%=*}")"
    printf '#pragma once\n#include <vector>\n#include "%s"\n' "${spec#*=}" >"$dir/${spec%%=*}"
  done
  echo "$dir"
}
expect() { # expect pass|fail DIR WHAT
  local out rc=0
  out=$("$check" "$2" 2>&1) || rc=$?
  if [[ $1 == pass && $rc -ne 0 ]] || [[ $1 == fail && $rc -eq 0 ]]; then
    echo "FAIL: $3: expected $1, got exit $rc: $out" >&2
    exit 1
  fi
  echo "ok: $3${out:+ ($out)}"
}

expect pass "$(tree down src/state/a.hpp=config/b.hpp src/config/b.hpp=net/c.hpp \
               src/net/c.hpp=ratelimit/abi.h cli/r.hpp=control/p.hpp bpf/x.bpf.c=parse.h)" \
       "includes that point down or stay in their folder"
expect fail "$(tree climb src/config/a.hpp=state/b.hpp)" "config including state"
expect fail "$(tree sideways src/config/a.hpp=datapath/b.hpp)" "config including datapath (same layer)"
expect fail "$(tree contract include/ratelimit/abi.h=sys/fd.hpp)" "the contract including sys"
expect fail "$(tree skeleton src/net/a.hpp=ratelimit.skel.h)" "net including a BPF skeleton"
expect fail "$(tree unknown src/newthing/a.hpp=net/b.hpp)" "a folder missing from the table"
expect fail "$(tree target src/daemon/a.hpp=nowhere/b.hpp)" "an include of a folder missing from the table"
