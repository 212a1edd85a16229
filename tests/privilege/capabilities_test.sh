#!/usr/bin/env bash
# The daemon runs with exactly the capabilities the systemd unit grants (AmbientCapabilities=,
# read from the unit), as root like the unit's ExecStart, under setpriv: with all of them it
# attaches to a veth in a namespace of its own; with any one dropped it exits 1 naming that
# capability, and nothing is attached.
#
#   tests/privilege/capabilities_test.sh SOURCE_DIR RATELIMITD
#
# Needs root and setpriv (util-linux); skips (77) without root, or fails under RATELIMITD_NO_SKIP.
set -euo pipefail
src=$1 daemon=$2
if [[ $(id -u) -ne 0 ]]; then
    [[ -n ${RATELIMITD_NO_SKIP:-} ]] && { echo "FAIL: needs root" >&2; exit 1; }
    echo "skipped: needs root"
    exit 77
fi
tag=pkgcap$$
netns=rl-$tag dir=/run/rl-$tag iface=v${tag:0:12}
cleanup() {
    [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ip netns del "$netns" 2>/dev/null || true
    umount "$dir/bpf" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

caps=$(sed -n 's/^AmbientCapabilities=//p' "$src/configs/ratelimitd.service.in")
bounding=$(sed -n 's/^CapabilityBoundingSet=//p' "$src/configs/ratelimitd.service.in")
[[ -n $caps && $caps == "$bounding" ]] || fail "the unit's ambient ($caps) and bounding ($bounding) sets differ"
echo "the unit grants: $caps"

ip netns add "$netns"
ip -n "$netns" link add "$iface" type veth peer name "${iface}p"
ip -n "$netns" link set "$iface" up
ip -n "$netns" link set "${iface}p" up
mkdir -p "$dir/bpf"
chmod 0755 "$dir"
mount -t bpf bpf "$dir/bpf"
# The socket goes to a group root is not in, which is what needs CAP_CHOWN.
cat >"$dir/config.json" <<JSON
{"interfaces": [{"name": "$iface"}], "default": {"rate": "100pps"},
 "control": {"socket": "$dir/run/ratelimitd.sock", "group": "nogroup"},
 "metrics": {"enabled": false}, "state_dir": "$dir/state", "pin_dir": "$dir/bpf/rl"}
JSON

attached() { ip -n "$netns" -d link show dev "$iface" | grep -q 'prog/xdp'; }
# Runs the daemon with the capabilities $1 (comma-separated, setpriv's +name form); waits for it
# to be ready (returns 0, leaving it running as $pid) or to exit (returns 1, $code its status).
start() {
    local set=-all,$1
    nsenter --net=/run/netns/"$netns" setpriv --bounding-set="$set" --inh-caps="$set" \
        --ambient-caps="$set" -- "$daemon" -c "$dir/config.json" >"$dir/log" 2>&1 &
    pid=$!
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            set +e; wait "$pid"; code=$?; set -e
            pid=
            return 1
        fi
        grep -q '^info: ready' "$dir/log" && return 0
        sleep 0.1
    done
    fail "the daemon neither started nor exited in 30 s: $(cat "$dir/log")"
}

setpriv_list() { # "CAP_BPF CAP_NET_ADMIN" minus $1 -> "+bpf,+net_admin"
    local out=() c
    for c in $caps; do [[ $c == "$1" ]] || out+=("+$(tr 'A-Z' 'a-z' <<<"${c#CAP_}")"); done
    (IFS=,; echo "${out[*]}")
}

start "$(setpriv_list none)" || fail "with the unit's capabilities the daemon exited $code: $(cat "$dir/log")"
attached || fail "with the unit's capabilities nothing is attached to $iface"
kill "$pid"
set +e; wait "$pid"; code=$?; set -e
pid=
[[ $code -eq 0 ]] || fail "the daemon exited $code on SIGTERM"
echo "ok: with $caps it attaches and stops cleanly"

for cap in $caps; do
    if start "$(setpriv_list "$cap")"; then
        fail "without $cap the daemon started: $(cat "$dir/log")"
    fi
    [[ $code -eq 1 ]] || fail "without $cap the daemon exited $code, not 1"
    grep -q "missing capabilities: $cap (" "$dir/log" ||
        fail "without $cap the error does not name it: $(cat "$dir/log")"
    ! attached || fail "without $cap something is attached to $iface"
    echo "ok: without $cap: $(grep -o "missing capabilities: [^;]*" "$dir/log")"
done
echo PASS
