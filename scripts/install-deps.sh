#!/usr/bin/env bash
# Installs the Debian 12 packages ratelimitd needs to build, test and benchmark.
# Idempotent: only missing packages are installed, so a ready machine costs one dpkg query.
set -euo pipefail

packages=(
  # build
  cmake make g++ pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev libspdlog-dev nlohmann-json3-dev libsystemd-dev libcpp-httplib-dev libgtest-dev
  # ratelimitctl's completion (installed under DATADIR/bash-completion/completions)
  bash-completion
  # man pages: scdoc builds them, mandoc and man-db lint them
  scdoc mandoc man-db
  # tests: namespaces, veth, firewall counters, a real Prometheus scrape
  iproute2 nftables iptables prometheus
  # the Debian package (scripts/package.sh) and its tests: dpkg-shlibdeps, setpriv, the unit's
  # security score (systemd-analyze)
  dpkg-dev binutils util-linux systemd
  # benchmarks: charts
  gnuplot-nox
)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

# An install cut short (a machine stopped during apt) leaves packages half configured, and apt
# then refuses every install until dpkg finishes them; dpkg --audit lists them.
interrupted=$(dpkg --audit 2>/dev/null || true)

if ((${#missing[@]} == 0)) && [[ -z $interrupted ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# man-db rebuilds its whole index after every install; nothing here reads that index, and on a
# slow machine it is the step most often cut short.
echo "man-db man-db/auto-update boolean false" | debconf-set-selections
if [[ -n $interrupted ]]; then
  echo "install-deps: finishing an interrupted install (dpkg --configure -a)" >&2
  dpkg --configure -a
fi
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
