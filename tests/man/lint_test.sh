#!/usr/bin/env bash
# Lints the built man pages with both formatters an operator may have: mandoc (-T lint, every
# warning) and man-db's groff (`man --warnings`). The one mandoc warning scdoc's output always
# draws, an empty or redundant .PP ("skipping paragraph macro"), is layout noise and allowed.
#
#   tests/man/lint_test.sh PAGE...
set -euo pipefail
failures=0
for page in "$@"; do
    [[ -s $page ]] || { echo "FAIL: $page is missing or empty" >&2; failures=$((failures + 1)); continue; }
    problems=$(mandoc -T lint -W warning "$page" 2>&1 | grep -v 'WARNING: skipping paragraph macro' || true)
    problems+=$(LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null || true)
    if [[ -n $problems ]]; then
        echo "FAIL: $page:" >&2
        echo "$problems" >&2
        failures=$((failures + 1))
    else
        echo "ok: $page"
    fi
done
((failures == 0))
