#!/usr/bin/env bash
# What the two clients put on the wire, seen by tcpdump on the gateway side of a veth pair:
#  - `portcullis knock`: exactly one packet per step, in order, TCP steps a bare SYN (no data, no
#    retransmission, no RST after the abandoned connect), UDP steps one small datagram; over IPv4
#    and IPv6;
#  - `portcullis spa`: exactly one UDP datagram to 62201 over IPv4 and over IPv6 whose payload is a
#    complete SPA packet (base64 text of a plausible length).
# The "gateway" drops everything (nft), as a guarded gateway does.
# Needs root, tcpdump, tshark, xxd, nft; env PORTCULLIS = path of the portcullis binary.
set -euo pipefail

PORTCULLIS=${PORTCULLIS:?set PORTCULLIS to the portcullis binary}
[[ $(id -u) == 0 ]] || { echo "FAIL: needs root (network namespaces)"; exit 1; }

gw=pc-spawire-gw-$$
cli=pc-spawire-cli-$$
work=$(mktemp -d)
dump_pid=""
source "$(dirname "${BASH_SOURCE[0]}")/../../lab/netns.sh"
cleanup() {
    [[ -n $dump_pid ]] && kill "$dump_pid" 2>/dev/null || true
    netns_destroy "$gw" "$cli"
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
check() {
    local description=$1
    shift
    if "$@"; then echo "ok   - $description"; else echo "FAIL - $description"; failures=$((failures + 1)); fi
}

ip netns add "$gw"
ip netns add "$cli"
ip link add "w$$g" type veth peer name "w$$c"
ip link set "w$$g" netns "$gw"
ip link set "w$$c" netns "$cli"
ip -n "$gw" addr add 192.0.2.1/24 dev "w$$g"
ip -n "$cli" addr add 192.0.2.2/24 dev "w$$c"
ip -n "$gw" addr add 2001:db8:77::1/64 dev "w$$g" nodad
ip -n "$cli" addr add 2001:db8:77::2/64 dev "w$$c" nodad
for ns in "$gw" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$gw" link set "w$$g" up
ip -n "$cli" link set "w$$c" up
# A closed gateway: drop all inbound except neighbour discovery.
ip netns exec "$gw" nft -f - <<'EOF'
table inet pc_spawire {
    chain input {
        type filter hook input priority 0; policy drop;
        icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
    }
}
EOF
ip netns exec "$cli" ping -c1 -W2 192.0.2.1 >/dev/null 2>&1 || true  # fill the ARP cache (dropped, fine)
ip netns exec "$cli" ip -6 neigh replace 2001:db8:77::1 lladdr "$(ip netns exec "$gw" cat /sys/class/net/w$$g/address)" dev "w$$c"

capture() {  # capture NAME: start tcpdump on the gateway side
    ip netns exec "$gw" tcpdump -i "w$$g" -n -l -U -w "$work/$1.pcap" '(src host 192.0.2.2 or src host 2001:db8:77::2) and (tcp or udp)' \
        >/dev/null 2>"$work/$1.tcpdump.err" &
    dump_pid=$!
    for _ in $(seq 50); do grep -q 'listening on' "$work/$1.tcpdump.err" 2>/dev/null && break; sleep 0.1; done
}
stop_capture() {
    sleep 1.5  # long enough for a retransmitted SYN (1 s) to show up if there were one
    kill "$dump_pid" 2>/dev/null || true
    wait "$dump_pid" 2>/dev/null || true
    dump_pid=""
}
summary() {  # one line per packet: proto dst-port flags/length
    tcpdump -n -r "$work/$1.pcap" 2>/dev/null
}

# --- knock over IPv4 ---
capture knock4
ip netns exec "$cli" "$PORTCULLIS" knock 192.0.2.1 tcp/7000 udp/8000 tcp/9000 9100 --delay 50
stop_capture
summary knock4 >"$work/knock4.txt"
check "knock v4: four packets" test "$(wc -l <"$work/knock4.txt")" -eq 4
check "knock v4: step 1 is a SYN to 7000" bash -c "sed -n 1p '$work/knock4.txt' | grep -q '192.0.2.1.7000: Flags \[S\]'"
check "knock v4: step 2 is UDP to 8000" bash -c "sed -n 2p '$work/knock4.txt' | grep -q '192.0.2.1.8000: UDP, length 1'"
check "knock v4: step 3 is a SYN to 9000" bash -c "sed -n 3p '$work/knock4.txt' | grep -q '192.0.2.1.9000: Flags \[S\]'"
check "knock v4: a bare port is a TCP SYN (9100)" bash -c "sed -n 4p '$work/knock4.txt' | grep -q '192.0.2.1.9100: Flags \[S\]'"
check "knock v4: no RST, no retransmission" bash -c "! grep -q 'Flags \[R' '$work/knock4.txt'"

# --- knock over IPv6 ---
capture knock6
ip netns exec "$cli" "$PORTCULLIS" knock 2001:db8:77::1 -6 udp/8000 tcp/7000 --delay 50
stop_capture
summary knock6 >"$work/knock6.txt"
check "knock v6: two packets" test "$(wc -l <"$work/knock6.txt")" -eq 2
check "knock v6: UDP to 8000 then SYN to 7000" bash -c "sed -n 1p '$work/knock6.txt' | grep -q '2001:db8:77::1.8000: UDP' && sed -n 2p '$work/knock6.txt' | grep -q '2001:db8:77::1.7000: Flags \[S\]'"

# --- SPA over IPv4 and IPv6 ---
HOME=$work fwknop --key-gen >"$work/client.key" 2>/dev/null || {
    printf 'KEY_BASE64 %s\nHMAC_KEY_BASE64 %s\n' "$(openssl rand -base64 32)" "$(openssl rand -base64 64 | tr -d '\n')" >"$work/client.key"
}
chmod 600 "$work/client.key"
for family in 4 6; do
    target=192.0.2.1
    [[ $family == 6 ]] && target=2001:db8:77::1
    capture "spa$family"
    ip netns exec "$cli" "$PORTCULLIS" spa "$target" "-$family" --service ipsec --key-file "$work/client.key" 2>/dev/null
    stop_capture
    summary "spa$family" >"$work/spa$family.txt"
    check "spa v$family: exactly one datagram" test "$(wc -l <"$work/spa$family.txt")" -eq 1
    check "spa v$family: to udp/62201" grep -q "$target.62201: UDP" "$work/spa$family.txt"
    # The whole payload: base64 only, 140..1024 characters, nothing else (no newline).
    payload=$(tshark -r "$work/spa$family.pcap" -T fields -e udp.payload 2>/dev/null | head -1 | tr -d ':' | xxd -r -p)
    check "spa v$family: the payload is an SPA packet (base64 only, ${#payload} chars)" \
        bash -c '[[ $1 =~ ^[A-Za-z0-9+/]{140,1024}$ ]]' _ "$payload"
done

if (( failures > 0 )); then
    for f in "$work"/*.txt; do echo "--- $f"; cat "$f"; done
    exit 1
fi
echo "spa_clients_wire: all checks passed"
