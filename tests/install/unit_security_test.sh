#!/usr/bin/env bash
# The systemd unit's exposure, as `systemd-analyze security --offline=true` scores it, is at most
# 2.5, and every item it still flags is explained in the README's security model (the item's
# setting, such as `PrivateNetwork=`, appears in the table there).
#
#   tests/install/unit_security_test.sh SOURCE_DIR
set -euo pipefail
src=$1
max=2.5
dir=$(mktemp -d /tmp/rl-unit-security.XXXXXX)
trap 'rm -rf "$dir"' EXIT
sed 's|@RATELIMITD_SBINDIR@|/usr/sbin|' "$src/configs/ratelimitd.service.in" >"$dir/ratelimitd.service"
report=$(systemd-analyze security --offline=true --no-pager "$dir/ratelimitd.service" 2>&1)
exposure=$(sed -n 's/.*Overall exposure level for ratelimitd.service: \([0-9.]*\).*/\1/p' <<<"$report")
[[ -n $exposure ]] || { echo "FAIL: no exposure in: $report" >&2; exit 1; }
echo "exposure $exposure (at most $max)"
status=0
if ! awk -v e="$exposure" -v m="$max" 'BEGIN { exit !(e <= m) }'; then
    echo "FAIL: exposure $exposure is above $max" >&2
    status=1
fi
# (a table cell writes | as \|)
readme=$(sed -n '/^## Security model/,/^## /p' "$src/README.md" | sed 's/\\|/|/g')
while read -r setting; do
    if ! grep -qF -- "\`$setting\`" <<<"$readme"; then
        echo "FAIL: $setting is flagged but not explained in the README's security model" >&2
        status=1
    fi
done < <(grep '✗' <<<"$report" | awk '{print $2}')
exit $status
