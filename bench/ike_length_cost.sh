#!/usr/bin/env bash
# Issue 5: what the IKE-length-equals-UDP-length check costs per packet. Two namespaces joined by a
# veth; the receiver loads the compiled table of an ikev2 host policy with the check ("with") and
# the same text without its three mismatch rules per port ("without"), alternating, ROUNDS times.
# The sender (one CPU) sends N valid 300-byte IKE messages to udp/500; the kernel's receive path
# (veth, conntrack, the table) runs in the sender's context, so CPU time per sendto includes it.
# Prints ns per packet for each run and the ratio of medians. Root; documentation addresses only.
set -euo pipefail
PORTCULLIS=${PORTCULLIS:-$(dirname "$0")/../build/release/portcullis}
N=${N:-100000} ROUNDS=${ROUNDS:-6} TAG=pcbil$$
WORK=$(mktemp -d)
cleanup() { [ -f "$WORK/rpid" ] && kill "$(cat "$WORK/rpid")" 2>/dev/null; ip netns del ${TAG}a 2>/dev/null; ip netns del ${TAG}b 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cat >"$WORK/pol.toml" <<'P'
[firewall]
mode = "host"
wan = "bilw0"
[[service]]
name = "vpn"
preset = "ikev2"
allow_from = ["any"]
ike_init_limit = "off"
P
"$PORTCULLIS" compile "$WORK/pol.toml" >"$WORK/with.nft"
grep -v 'counter name "conform_ike_length_mismatch"\|counter name "conform_natt_length_mismatch"' "$WORK/with.nft" >"$WORK/without.nft"
cat >"$WORK/send.py" <<'P'
import socket, sys, time
n = int(sys.argv[1]); size = 300
data = bytes.fromhex("1122334455667788" "99aabbccddeeff00" "21202308" "00000000") + size.to_bytes(4, "big") + b"\0" * (size - 28)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.process_time()
for _ in range(n): s.sendto(data, ("203.0.113.1", 500))
print(f"{(time.process_time() - t0) / n * 1e9:.0f}")
P
ip netns add ${TAG}a; ip netns add ${TAG}b
ip link add bilw0 netns ${TAG}a type veth peer name bilc0 netns ${TAG}b
ip -n ${TAG}a addr add 203.0.113.1/24 dev bilw0; ip -n ${TAG}b addr add 203.0.113.2/24 dev bilc0
ip -n ${TAG}a link set bilw0 up; ip -n ${TAG}b link set bilc0 up; ip -n ${TAG}a link set lo up
ip netns exec ${TAG}a python3 -c 'import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 500)); time.sleep(3600)' &
echo $! >"$WORK/rpid"; sleep 0.3
uptime
declare -A runs
for _ in $(seq "$ROUNDS"); do
  for v in with without; do
    ip netns exec ${TAG}a nft flush ruleset; ip netns exec ${TAG}a nft -f "$WORK/$v.nft"
    ns=$(ip netns exec ${TAG}b taskset -c 0 python3 "$WORK/send.py" "$N"); echo "$v $ns"; runs[$v]+="$ns "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
w=$(echo "${runs[with]}" | median) wo=$(echo "${runs[without]}" | median)
echo "median ns/packet: with $w, without $wo; ratio $(awk -v a="$w" -v b="$wo" 'BEGIN { printf "%.3f", a / b }'); extra $(awk -v a="$w" -v b="$wo" 'BEGIN { printf "%.0f", a - b }') ns"
uptime
