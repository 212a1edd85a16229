#!/usr/bin/env bash
# The Debian package on this machine, from build to purge:
#   1. scripts/package.sh builds version A and a higher version B from BUILD_DIR;
#   2. dpkg -i A: files where they belong, the conffile, the `ratelimit` group, debug info found
#      by build id, the unit verified; the shipped config names no interface here, so postinst
#      leaves the service disabled and says why;
#   3. with the config edited to name a veth in a namespace made here, the installed daemon runs
#      as the unit's ExecStartPre/ExecStart would (PID 1 is not systemd here: as root, with the
#      unit's capabilities only, in its runtime and state directories), and reloads;
#   4. while rl-send (BUILD_DIR/src/tools) sends 2000 frames/s into that veth, the upgrade to B: the old daemon stopped with SIGUSR2
#      (what prerm asks systemd for), dpkg -i B, the new installed daemon started and adopting;
#      a poller checks all along that the interface always has an XDP program;
#   5. stop (SIGTERM detaches), dpkg --purge: no file of the package, state, pins, runtime
#      directory or group left.
# The packages are purged whatever happens.
#
#   tests/package/package_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
if [[ $(id -u) -ne 0 ]]; then
    [[ -n ${RATELIMITD_NO_SKIP:-} ]] && { echo "FAIL: needs root" >&2; exit 1; }
    echo "skipped: needs root (dpkg -i)"
    exit 77
fi
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# This machine must not have ratelimitd already: the test installs and purges the real thing.
! dpkg-query -W -f='${Status}' ratelimitd 2>/dev/null | grep installed >/dev/null ||
    fail "ratelimitd is installed on this machine already; the test would replace and purge it"
! getent group ratelimit >/dev/null || fail "a group ratelimit exists already"
[[ ! -e /sys/fs/bpf/ratelimitd && ! -e /var/lib/ratelimitd && ! -e /etc/ratelimitd ]] ||
    fail "ratelimitd's pins, state or config exist on this machine already"

tag=pkg$$
ns=rl-$tag-a peer=rl-$tag-b iface=v$tag
work=$(mktemp -d /tmp/rl-$tag.XXXXXX)
daemon_pid="" ping_pid="" poll_pid=""
cleanup() {
    local code=$?
    for pid in $poll_pid $ping_pid $daemon_pid; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    dpkg --purge ratelimitd-dbgsym ratelimitd >/dev/null 2>&1 || true
    ip netns del "$ns" 2>/dev/null || true
    ip netns del "$peer" 2>/dev/null || true
    ((code == 0)) || { echo "--- daemon log"; cat "$work"/daemon-*.log 2>/dev/null | tail -n 30; }
    rm -rf "$work"
}
trap cleanup EXIT

# 1. Two packages: A, and B rebuilt with a higher version.
base=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
"$src/scripts/package.sh" --build-dir "$build" --out "$work/a" --version "$base~test1" >"$work/a.list"
"$src/scripts/package.sh" --build-dir "$build" --out "$work/b" --version "$base~test2" >"$work/b.list"
dpkg --compare-versions "$base~test2" gt "$base~test1" || fail "B is not newer than A"
for deb in $(cat "$work/a.list"); do
    dpkg-deb --info "$deb" >/dev/null || fail "$deb is not a package"
done
deps=$(dpkg-deb --field "$(head -n 1 "$work/a.list")" Depends)
grep -q 'libbpf1' <<<"$deps" || fail "Depends does not come from the libraries: $deps"
echo "ok: built $(cat "$work/a.list" "$work/b.list" | xargs -n 1 basename | tr '\n' ' ')(Depends: $deps)"

# 2. Install A.
dpkg -i $(cat "$work/a.list") >"$work/install.log" 2>&1 || fail "dpkg -i A: $(cat "$work/install.log")"
grep -q 'ratelimitd: not started' "$work/install.log" ||
    fail "postinst did not say the service stays disabled: $(cat "$work/install.log")"
[[ ! -e /etc/systemd/system/multi-user.target.wants/ratelimitd.service ]] ||
    fail "the service was enabled with a config that names no interface of this host"
for file in /usr/sbin/ratelimitd /usr/bin/ratelimitctl /usr/lib/systemd/system/ratelimitd.service \
    /etc/ratelimitd/ratelimitd.json /usr/share/bash-completion/completions/ratelimitctl \
    /usr/share/man/man8/ratelimitd.8.gz /usr/share/man/man8/ratelimitctl.8.gz \
    /usr/share/man/man5/ratelimitd.json.5.gz /usr/share/doc/ratelimitd/copyright; do
    [[ -e $file ]] || fail "no $file"
done
dpkg-query -W -f='${Conffiles}' ratelimitd | grep '/etc/ratelimitd/ratelimitd.json' >/dev/null ||
    fail "/etc/ratelimitd/ratelimitd.json is not a conffile"
getent group ratelimit >/dev/null || fail "no group ratelimit"
if readelf -S --wide /usr/sbin/ratelimitd | grep -E '\.debug_|\.symtab' >/dev/null; then
    fail "/usr/sbin/ratelimitd is not stripped"
fi
id=$(readelf -n /usr/sbin/ratelimitd | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
debug=/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
readelf -S --wide "$debug" 2>/dev/null | grep '\.debug_info' >/dev/null || fail "no debug info at $debug"
man -l /usr/share/man/man8/ratelimitd.8.gz >/dev/null 2>&1 || fail "man cannot read ratelimitd(8)"
verify=$(systemd-analyze verify /usr/lib/systemd/system/ratelimitd.service 2>&1) ||
    fail "systemd-analyze verify: $verify"
echo "ok: A installed, disabled until edited, unit verified"

# 3. The config edited to name a veth in a namespace; the daemon started as the unit would.
ip netns add "$ns"
ip netns add "$peer"
ip -n "$ns" link add "$iface" type veth peer name "${iface}p" netns "$peer"
ip -n "$ns" addr add 10.77.0.1/24 dev "$iface"
ip -n "$peer" addr add 10.77.0.2/24 dev "${iface}p"
ip -n "$ns" link set lo up # metrics.listen is 127.0.0.1
ip -n "$ns" link set "$iface" up
ip -n "$peer" link set "${iface}p" up
sed -i "s/\"EDIT-ME\"/\"$iface\"/" /etc/ratelimitd/ratelimitd.json
unit=/usr/lib/systemd/system/ratelimitd.service
caps=""
for cap in $(sed -n 's/^AmbientCapabilities=//p' "$unit"); do
    cap=${cap#CAP_}
    caps+=${caps:+,}+${cap,,}
done
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start_cmd=$(sed -n 's/^ExecStart=//p' "$unit")
as_unit() { # exec's, in the unit's environment as far as PID 1 would make it: capabilities, network
    exec nsenter --net=/run/netns/"$ns" setpriv --bounding-set=-all,"$caps" \
        --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" --no-new-privs -- "$@"
}
start_daemon() { # $1: log name; waits for ready
    install -d -m 0755 /run/ratelimitd
    install -d -m 0750 /var/lib/ratelimitd
    (as_unit $pre) >"$work/check-$1.log" 2>&1 || fail "ExecStartPre failed: $(cat "$work/check-$1.log")"
    : >"$work/daemon-$1.log"
    (as_unit $start_cmd) >"$work/daemon-$1.log" 2>&1 & # $! is the daemon: it exec's
    daemon_pid=$!
    for ((i = 0; i < 300; i++)); do
        grep -q '^info: ready' "$work/daemon-$1.log" && return 0
        kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited: $(cat "$work/daemon-$1.log")"
        sleep 0.1
    done
    fail "the daemon was not ready in 30 s"
}
attached() { ip -n "$ns" -d link show dev "$iface" | grep 'prog/xdp' >/dev/null; }
start_daemon a
attached || fail "nothing attached to $iface"
out=$(ratelimitctl reload 2>&1) || fail "ratelimitctl reload: $out"
kill -HUP "$daemon_pid"
sleep 0.5
grep -q 'SIGHUP: reloading' "$work/daemon-a.log" || fail "SIGHUP did not reload"
echo "ok: A running on $iface, reloaded (ratelimitctl reload, SIGHUP)"

# 4. Upgrade to B while traffic flows, polling the interface.
tx_sent() { ip -n "$peer" -s -j link show dev "${iface}p" | grep -o '"tx":{[^}]*' | grep -o '"packets":[0-9]*' | cut -d: -f2; }
tx_before=$(tx_sent)
ip netns exec "$peer" "$build/src/tools/rl-send" -i "${iface}p" --dst 10.77.0.1 --src 10.77.0.2 \
    --rate 2000 --duration 600s >"$work/send.log" 2>&1 &
ping_pid=$!
(
    polls=0 bare=0
    trap 'echo "$polls $bare" >"$work/polls"; exit 0' TERM
    while :; do
        attached || bare=$((bare + 1))
        polls=$((polls + 1))
    done
) &
poll_pid=$!
sleep 0.5
kill -USR2 "$daemon_pid"
set +e; wait "$daemon_pid"; code=$?; set -e
daemon_pid=""
[[ $code -eq 0 ]] || fail "SIGUSR2: the daemon exited $code"
dpkg -i --force-confold $(cat "$work/b.list") >"$work/upgrade.log" 2>&1 ||
    fail "dpkg -i B: $(cat "$work/upgrade.log")"
start_daemon b
sleep 0.5
kill "$poll_pid"
wait "$poll_pid" || true
poll_pid=""
read -r polls bare <"$work/polls"
grep -q 'adopted' "$work/daemon-b.log" || fail "the new daemon did not adopt the pins: $(cat "$work/daemon-b.log")"
[[ $(dpkg-query -W -f='${Version}' ratelimitd) == "$base~test2" ]] || fail "B is not installed"
grep -q "\"$iface\"" /etc/ratelimitd/ratelimitd.json || fail "the upgrade replaced the edited config"
((polls > 20)) || fail "only $polls polls during the upgrade"
((bare == 0)) || fail "$iface was without a program in $bare of $polls polls during the upgrade"
sent=$(($(tx_sent) - tx_before))
kill "$ping_pid" 2>/dev/null || true
wait "$ping_pid" || true
ping_pid=""
((sent > 50)) || fail "no traffic flowed during the upgrade ($sent frames): $(cat "$work/send.log")"
echo "ok: upgraded to B under traffic ($sent frames sent meanwhile): $polls polls, none without a program"

# 5. Stop and purge.
kill "$daemon_pid"
set +e; wait "$daemon_pid"; code=$?; set -e
daemon_pid=""
[[ $code -eq 0 ]] || fail "SIGTERM: the daemon exited $code"
! attached || fail "SIGTERM left a program attached"
files=$(dpkg -L ratelimitd ratelimitd-dbgsym | sort -u)
dpkg --purge ratelimitd-dbgsym ratelimitd >"$work/purge.log" 2>&1 || fail "purge: $(cat "$work/purge.log")"
left=()
while read -r file; do
    [[ -f $file || -L $file ]] && left+=("$file")
done <<<"$files"
for path in /etc/ratelimitd /var/lib/ratelimitd /run/ratelimitd /sys/fs/bpf/ratelimitd \
    /var/lib/systemd/deb-systemd-helper-enabled/ratelimitd.service.dsh-also; do
    [[ -e $path ]] && left+=("$path")
done
getent group ratelimit >/dev/null && left+=("group ratelimit")
((${#left[@]} == 0)) || fail "left after purge: ${left[*]}"
echo "ok: stopped and purged, nothing left"
echo PASS
