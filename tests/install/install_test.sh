#!/usr/bin/env bash
# Installs the build into a DESTDIR under another prefix (/opt/rl), as a package build would, and
# checks what an operator finds there: the unit starting the installed daemon, binaries without
# debug info, the completion where bash-completion looks, and an example config that --check
# accepts once its interface name is edited (and, before that, refuses naming only that).
#
#   tests/install/install_test.sh BUILD_DIR
#
# The --check part needs root (it checks that the state and runtime directories can be made);
# without root it skips (exit 77), or fails under RATELIMITD_NO_SKIP.
set -euo pipefail
build=$1
prefix=/opt/rl
destdir=$(mktemp -d /tmp/rl-install.XXXXXX)
netns=rlt-$$-0 # the e2e harness's pattern: removed as a leftover if this script is killed
cleanup() {
    rm -rf "$destdir"
    ip netns del "$netns" 2>/dev/null || true
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

DESTDIR=$destdir cmake --install "$build" --prefix "$prefix" >/dev/null
root=$destdir$prefix

unit=$root/lib/systemd/system/ratelimitd.service
config=/etc/ratelimitd/ratelimitd.json
grep -qx "ExecStartPre=$prefix/sbin/ratelimitd --check -c $config" "$unit" ||
    fail "ExecStartPre does not run $prefix/sbin/ratelimitd: $(grep ExecStart "$unit")"
grep -qx "ExecStart=$prefix/sbin/ratelimitd -c $config" "$unit" ||
    fail "ExecStart does not run $prefix/sbin/ratelimitd: $(grep ExecStart "$unit")"
if grep -nE "@[A-Z_]+@" "$unit"; then fail "the unit has unconfigured @VARIABLES@"; fi

for binary in sbin/ratelimitd bin/ratelimitctl; do
    [[ -x $root/$binary ]] || fail "no $prefix/$binary"
    sections=$(readelf -S --wide "$root/$binary") # not piped into grep -q: pipefail and SIGPIPE
    if grep -qE '\.debug_|\.symtab' <<<"$sections"; then
        fail "$prefix/$binary is not stripped"
    fi
    echo "$prefix/$binary: $(stat -c %s "$root/$binary") bytes"
done
"$root/sbin/ratelimitd" --version >/dev/null || fail "the stripped ratelimitd does not run"

completion=$root/share/bash-completion/completions/ratelimitctl
[[ -f $completion ]] || fail "no completion at $prefix/share/bash-completion/completions"
bash -n "$completion" || fail "the completion is not valid bash"

for page in man8/ratelimitd.8 man8/ratelimitctl.8 man5/ratelimitd.json.5; do
    [[ -s $root/share/man/$page ]] || fail "no man page $prefix/share/man/$page"
done

example=$root/etc/ratelimitd/ratelimitd.json.example
[[ -f $example ]] || fail "no example config at $prefix/etc/ratelimitd"
if [[ $(id -u) -ne 0 ]]; then
    [[ -n ${RATELIMITD_NO_SKIP:-} ]] && fail "needs root to --check the example config"
    echo "skipped: --check of the example config needs root"
    exit 77
fi
# A namespace with only a loopback: no host's interface names leak into the result.
ip netns add "$netns"
set +e
out=$(ip netns exec "$netns" "$root/sbin/ratelimitd" --check -c "$example" 2>&1)
code=$?
set -e
[[ $code -eq 78 ]] || fail "--check of the example exited $code, not 78: $out"
expected="$example: interfaces[0].name: no interface named \"eth0\" on this system"
[[ $out == "$expected" ]] || fail "--check of the example should name only the interface: $out"

edited=$destdir/ratelimitd.json
sed 's/"name": "eth0"/"name": "lo"/' "$example" >"$edited"
out=$(ip netns exec "$netns" "$root/sbin/ratelimitd" --check -c "$edited" 2>&1) ||
    fail "the example with its interface edited is refused: $out"
echo "$out"
echo "PASS"
