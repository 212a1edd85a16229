#!/usr/bin/env bash
# Builds ratelimitd and runs it.
#
#   scripts/run.sh IFACE [CONFIG]   run on IFACE, with CONFIG (default: a generated config that
#                                   sets only the interface and a default of 1000 pps per source)
#   scripts/run.sh                  a demo: two network namespaces joined by a veth pair, the
#                                   daemon on one end, a burst of traffic from the other, and
#                                   what was passed and dropped; it keeps running until Ctrl-C,
#                                   then removes everything it made
#
# Needs root (it loads an XDP program). Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)" --target ratelimitd ratelimitctl rl-send >/dev/null
daemon=$root/build/src/daemon/ratelimitd
ctl=$root/build/cli/ratelimitctl
sender=$root/build/src/tools/rl-send

if [[ $# -ge 1 ]]; then
    iface=$1
    config=${2:-}
    if [[ -z $config ]]; then
        config=$root/build/run/$iface.json
        mkdir -p "$(dirname "$config")"
        cat >"$config" <<JSON
{"interfaces": [{"name": "$iface"}], "default": {"rate": "1000pps", "burst": 2000}}
JSON
        echo "config: $config (edit it and send SIGHUP to apply)"
    fi
    exec "$daemon" -c "$config"
fi

# --- demo -----------------------------------------------------------------------------------
demo=$root/build/demo
src_ns=rl-demo-src dst_ns=rl-demo-dst
cleanup() {
    [[ -n ${daemon_pid:-} ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    ip netns del $src_ns 2>/dev/null || true
    ip netns del $dst_ns 2>/dev/null || true
    if mountpoint -q "$demo/bpf" 2>/dev/null; then umount "$demo/bpf"; fi
}
trap cleanup EXIT
cleanup

ip netns add $src_ns
ip netns add $dst_ns
ip -n $src_ns link add demo0 type veth peer name demo1 netns $dst_ns
ip -n $src_ns link set demo0 address 02:00:00:00:00:01 up
ip -n $dst_ns link set demo1 address 02:00:00:00:00:02 up
ip -n $dst_ns addr add 10.250.0.2/24 dev demo1
ip netns exec $dst_ns sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.demo1.rp_filter=0
# Count what reaches the far end per source, independently of the limiter.
ip netns exec $dst_ns nft -f - <<'NFT'
table inet demo {
    chain input {
        type filter hook input priority 0;
        ip saddr 10.1.0.1 counter comment "limited"
        ip saddr 10.66.0.1 counter comment "denied"
        ip saddr 10.2.0.1 counter comment "allowed"
        ip saddr 10.7.0.1 counter comment "default"
    }
}
NFT

# Every demo starts from the same state: runtime rules a previous demo added (a deny, say) would
# otherwise be adopted from the state directory and change the numbers below.
rm -rf "$demo/state"
mkdir -p "$demo"
cat >"$demo/ratelimitd.json" <<JSON
{
  "interfaces": [{"name": "demo1"}],
  "default": {"rate": "500pps", "burst": 100},
  "rules": [
    {"match": "10.1.0.0/16", "rate": "100pps", "burst": 50},
    {"match": "10.66.0.0/16", "action": "deny"},
    {"match": "10.2.0.0/16", "action": "allow"}
  ],
  "control": {"socket": "$demo/run/ratelimitd.sock"},
  "state_dir": "$demo/state",
  "pin_dir": "$demo/bpf",
  "metrics": {"enabled": false}
}
JSON
# The pins' bpffs, mounted here and not by the daemon: `ip netns exec` gives the daemon a mount
# namespace of its own, and a bpffs mounted in there would go (pins and program with it) when the
# daemon exits. This one lives until cleanup, so a restarted daemon adopts the pins.
mkdir -p "$demo/bpf"
mountpoint -q "$demo/bpf" || mount -t bpf bpf "$demo/bpf"
ip netns exec $dst_ns "$daemon" -c "$demo/ratelimitd.json" 2>"$demo/ratelimitd.log" &
daemon_pid=$!
for _ in $(seq 100); do
    grep -q "ready:" "$demo/ratelimitd.log" 2>/dev/null && break
    kill -0 $daemon_pid 2>/dev/null || { cat "$demo/ratelimitd.log"; exit 1; }
    sleep 0.1
done
cat "$demo/ratelimitd.log"
if ! grep -q "ready: .* 0 runtime rules" "$demo/ratelimitd.log"; then
    echo "run.sh: the demo daemon did not start without runtime rules; see $demo/ratelimitd.log" >&2
    exit 1
fi

echo
echo "Sending 2000 packets in 1 s from each of four sources..."
for src in 10.1.0.1 10.66.0.1 10.2.0.1 10.7.0.1; do
    ip netns exec $src_ns "$sender" -i demo0 --src $src --dst 10.250.0.2 --rate 2000 --count 2000 \
        >/dev/null &
done
wait $(jobs -p | grep -v "^$daemon_pid$") 2>/dev/null || true
sleep 0.3

echo
echo "Received on the far side (nftables counters, not the limiter's own):"
ip netns exec $dst_ns nft list chain inet demo input |
    sed -n 's/.*saddr \([0-9.]*\) counter packets \([0-9]*\).*comment "\(.*\)".*/  \1 (\3): \2 of 2000/p'
echo "  expected: limited 50 + 100/s x 1 s = ~150; denied 0; allowed 2000; default 100 + 500/s x 1 s = ~600"
echo
socket=$demo/run/ratelimitd.sock
echo "ratelimitd is running in namespace $dst_ns on demo1 (log: $demo/ratelimitd.log)."
echo "Its control socket is $socket; from another shell (as root):"
echo "  $ctl --socket $socket status"
echo "  $ctl --socket $socket show 10.1.0.1"
echo "  $ctl --socket $socket top"
echo "  $ctl --socket $socket deny 10.7.0.1 --ttl 5m"
echo "Send more (then look at the far side's counters again):"
echo "  ip netns exec $src_ns $sender -i demo0 --src 10.7.0.1 --dst 10.250.0.2 --rate 500 --duration 3s"
echo "  ip netns exec $dst_ns nft list chain inet demo input"
echo "Reload: edit $demo/ratelimitd.json, then kill -HUP $daemon_pid (or: $ctl --socket $socket reload)"
echo "Ctrl-C stops the daemon and removes the namespaces."
wait $daemon_pid
