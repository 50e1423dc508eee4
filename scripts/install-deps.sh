#!/usr/bin/env bash
# Installs what portcullis needs to build, test and run its lab, from Debian's packages.
# Idempotent: packages already present are skipped without touching apt.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config g++ clang clang-tools clang-format clang-tidy
  libclang-rt-14-dev
  libtomlplusplus-dev libcli11-dev libfmt-dev nlohmann-json3-dev libexpected-dev
  libnftables-dev libmnl-dev libnftnl-dev libnetfilter-log-dev libnetfilter-conntrack-dev libpcap-dev libssl-dev
  libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev
)
lab_pkgs=(
  iproute2 iputils-ping nftables conntrack procps psmisc curl util-linux
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins
  nmap hping3 tshark tcpdump tcpreplay socat iperf3 openssh-server
  xl2tpd pptp-linux pptpd fwknop-client fwknop-server knockd python3 python3-scapy python3-prometheus-client xxd
)

want=("${build_pkgs[@]}")
case "${1:-all}" in
  build) ;;
  all|lab) want+=("${lab_pkgs[@]}") ;;
  *) echo "usage: $0 [build|lab|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Daemons pulled in by lab packages must not run on the host: the lab starts its own in namespaces.
for svc in strongswan-starter strongswan ipsec xl2tpd pptpd knockd iperf3 ssh fwknop-server; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
