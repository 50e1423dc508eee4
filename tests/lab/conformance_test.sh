#!/usr/bin/env bash
# Lab, IKE / NAT-T protocol conformance and the IKE_SA_INIT flood limit in the kernel (issue 5):
# crafted malformed datagrams to udp/500 and udp/4500 are dropped and counted per reason, well-formed
# ones (IKE_SA_INIT, NAT-T keepalive, marked IKE, ESP with a normal SPI) reach the server socket, and
# a burst of IKE_SA_INIT from one source is cut to the per-source limit.
# Part 2 (gateway, issue 5 test 4): the shared captures' IKE / NAT-T / L2TP / PPTP-GRE packets,
# rewritten to come from a WAN client, are replayed with tcpreplay through a portcullis gateway:
# every well-formed UDP datagram reaches the LAN server and no conformance counter moves; crafted
# malformed L2TP and GRE packets are dropped there and counted per reason.
# Topology: namespaces pc-cnf-s<pid> (server, portcullis table from `portcullis compile`) and
# pc-cnf-c<pid> (client) on a veth pair, 192.0.2.0/24; part 2: pc-cnf-w/g/l<pid> (wan client
# 203.0.113.10, gateway 203.0.113.1 / 192.0.2.1, LAN server 192.0.2.10).
# Env: PORTCULLIS, PC_SHARED_ROOT (captures), PC_SOURCE_ROOT. Needs root.
set -u
for tool in ip nft python3 tcpreplay tcpdump; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is required"; exit 1; }
done
[ -x "${PORTCULLIS:-}" ] || { echo "FAIL: PORTCULLIS must name the portcullis binary"; exit 1; }

SRV=pc-cnf-s$$ CLI=pc-cnf-c$$ GW=pc-cnf-g$$ WN=pc-cnf-w$$ LN=pc-cnf-l$$
WORK=$(mktemp -d /tmp/pc-cnf.XXXXXX)
failures=0
source "$(dirname "${BASH_SOURCE[0]}")/../../lab/netns.sh"
cleanup() {
  [ -f "$WORK/recv.pid" ] && kill "$(cat "$WORK/recv.pid")" 2>/dev/null
  netns_destroy "$SRV" "$CLI" "$GW" "$WN" "$LN"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
in_srv() { ip netns exec "$SRV" "$@"; }

ip netns add "$SRV" && ip netns add "$CLI" || { echo "FAIL: cannot create namespaces"; exit 1; }
ip link add cnfs$$ netns "$SRV" type veth peer name cnfc$$ netns "$CLI"
in_srv ip link set lo up; ip netns exec "$CLI" ip link set lo up
in_srv ip addr add 192.0.2.1/24 dev cnfs$$
ip netns exec "$CLI" ip addr add 192.0.2.2/24 dev cnfc$$
in_srv ip link set cnfs$$ up; ip netns exec "$CLI" ip link set cnfc$$ up

cat >"$WORK/policy.toml" <<POLICY
[firewall]
mode = "host"
wan = "cnfs$$"
default = "drop"

[management]
sources = ["198.51.100.7"]
ports = ["tcp/22"]

[[service]]
name = "vpn"
preset = "ikev2"
allow_from = ["any"]
drop_ikev1_aggressive = true

[[service]]
name = "lns"
ports = ["udp/1701"]
allow_from = ["any"]
control_global_limit = "2/s"
control_global_burst = 5
POLICY
"$PORTCULLIS" compile "$WORK/policy.toml" >"$WORK/table.nft" 2>"$WORK/compile.log" ||
  { cat "$WORK/compile.log"; echo "FAIL: portcullis compile"; exit 1; }
in_srv nft -f "$WORK/table.nft" || { echo "FAIL: nft -f of the compiled table"; exit 1; }
pass "compiled table with conformance chains loaded"

# The server: records every datagram that reaches udp/500 or udp/4500 as "port hex".
cat >"$WORK/recv.py" <<'PY'
import select, socket, sys
socks = []
for port in (500, 4500, 1701):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    socks.append((s, port))
out = open(sys.argv[1], "a", buffering=1)
while True:
    ready, _, _ = select.select([s for s, _ in socks], [], [])
    for s, port in socks:
        if s in ready:
            data = s.recv(65535)
            out.write(f"{port} {data.hex()}\n")
PY
in_srv python3 "$WORK/recv.py" "$WORK/received" >/dev/null 2>&1 &
echo $! >"$WORK/recv.pid"
for _ in $(seq 50); do in_srv ss -lun | grep -q ':4500 ' && break; sleep 0.1; done

# The client: one datagram per call, from a fresh source port; payload as hex.
send() { ip netns exec "$CLI" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(bytes.fromhex(sys.argv[2]), ("192.0.2.1", int(sys.argv[1])))' "$1" "$2"; }
# IKE header: initiator SPI, responder SPI, next payload, version, exchange, flags, message id, length.
ike() { # version exchange flags length [rspi]
  printf '1122334455667788%s21%02x%02x%02x00000000%08x' "${5:-0000000000000000}" "$1" "$2" "$3" "$4"; }
counter() { in_srv nft list counter inet portcullis "$1" | grep -o 'packets [0-9]*' | cut -d' ' -f2; }
received() { grep -c "^$1 $2\$" "$WORK/received" 2>/dev/null; }

good_init=$(ike 0x20 34 0x08 28)
send 500 "$good_init"
bad_short=112233445566778800
send 500 "$bad_short"
bad_version=$(ike 0x30 34 0x08 28)
send 500 "$bad_version"
bad_exchange=$(ike 0x20 99 0x08 28)
send 500 "$bad_exchange"
bad_length=$(ike 0x20 35 0x08 65536 99aabbccddeeff00)
send 500 "$bad_length"
aggressive=$(ike 0x10 4 0x00 28)
send 500 "$aggressive"
main_mode=$(ike 0x10 2 0x00 28)
send 500 "$main_mode"
send 4500 ff
marked_ike=00000000$(ike 0x20 35 0x08 28 99aabbccddeeff00)
send 4500 "$marked_ike"
marked_bad=00000000$(ike 0x40 35 0x08 28 99aabbccddeeff00)
send 4500 "$marked_bad"
esp_good=0000100000000001deadbeefdeadbeef
send 4500 "$esp_good"
esp_reserved=0000000500000001deadbeefdeadbeef
send 4500 "$esp_reserved"
junk=abcdef
send 4500 "$junk"
sleep 0.5

check "well-formed IKE_SA_INIT reaches udp/500" test "$(received 500 "$good_init")" -eq 1
check "IKEv1 main mode reaches udp/500" test "$(received 500 "$main_mode")" -eq 1
check "NAT-T keepalive (0xff) reaches udp/4500" test "$(received 4500 ff)" -eq 1
check "IKE behind the non-ESP marker reaches udp/4500" test "$(received 4500 "$marked_ike")" -eq 1
check "ESP-in-UDP with SPI 0x1000 reaches udp/4500" test "$(received 4500 "$esp_good")" -eq 1
for bad in "$bad_short" "$bad_version" "$bad_exchange" "$bad_length" "$aggressive"; do
  check "malformed udp/500 datagram ${bad:0:16}... dropped" test "$(received 500 "$bad")" -eq 0
done
for bad in "$marked_bad" "$esp_reserved" "$junk"; do
  check "malformed udp/4500 datagram ${bad:0:16}... dropped" test "$(received 4500 "$bad")" -eq 0
done
for name in conform_ike_short conform_ike_version conform_ike_exchange conform_ike_length conform_ike_aggressive \
            conform_natt_version conform_natt_spi conform_natt_short; do
  check "counter $name counted exactly one drop" test "$(counter "$name")" -eq 1
done

# IKE length equal to the UDP payload length (udp/500), and to it minus the 4-byte non-ESP marker
# (udp/4500): sizes that cross a high byte, with and without a borrow in the low byte, off by one
# both ways, and a 3000-byte message that the 1500-byte MTU fragments (conntrack reassembles it
# before the filter sees it).
ike_sized() { # payload_bytes length_field [marker]
  printf '%s%s%s' "${3:-}" "$(ike 0x20 35 0x08 "$2" 99aabbccddeeff00)" \
    "$(python3 -c 'import sys; print("00" * (int(sys.argv[1]) - 28), end="")' "$1")"; }
good_500=() bad_500=() good_4500=() bad_4500=()
for size in 300 508 3000; do   # UDP lengths 308 (0x134), 516 (0x204: borrow), 3008
  good_500+=("$(ike_sized $size $size)")
  bad_500+=("$(ike_sized $size $((size - 1)))" "$(ike_sized $size $((size + 1)))")
done
for size in 296 508; do        # UDP lengths 8 + 4 + 296 = 308, 8 + 4 + 508 = 520 (0x208: borrow)
  good_4500+=("$(ike_sized $size $size 00000000)")
  bad_4500+=("$(ike_sized $size $((size - 1)) 00000000)" "$(ike_sized $size $((size + 1)) 00000000)"
             "$(ike_sized $size $((size + 4)) 00000000)")  # length counting the marker
done
for p in "${good_500[@]}" "${bad_500[@]}"; do send 500 "$p"; done
for p in "${good_4500[@]}" "${bad_4500[@]}"; do send 4500 "$p"; done
sleep 0.5
for p in "${good_500[@]}"; do
  check "IKE of $(( ${#p} / 2 )) bytes with its length field equal reaches udp/500" test "$(received 500 "$p")" -eq 1
done
for p in "${good_4500[@]}"; do
  check "marked IKE of $(( ${#p} / 2 )) bytes with a matching length field reaches udp/4500" \
    test "$(received 4500 "$p")" -eq 1
done
for p in "${bad_500[@]}"; do
  check "IKE with a length field off by one dropped on udp/500 ($(( ${#p} / 2 )) bytes)" test "$(received 500 "$p")" -eq 0
done
for p in "${bad_4500[@]}"; do
  check "marked IKE with a mismatched length field dropped on udp/4500 ($(( ${#p} / 2 )) bytes)" \
    test "$(received 4500 "$p")" -eq 0
done
check "conform_ike_length_mismatch counted the ${#bad_500[@]} mismatches" \
  test "$(counter conform_ike_length_mismatch)" -eq "${#bad_500[@]}"
check "conform_natt_length_mismatch counted the ${#bad_4500[@]} mismatches" \
  test "$(counter conform_natt_length_mismatch)" -eq "${#bad_4500[@]}"

# Global limit: 6 sources x 3 SCCRQs (each source within its own limit of burst 10) against the
# all-sources cap of 2/s burst 5: about 5 pass, the rest are dropped and counted.
for i in 11 12 13 14 15 16; do ip netns exec "$CLI" ip addr add 192.0.2.$i/24 dev cnfc$$; done
sccrq=c802001400000000000000008008000000000001
ip netns exec "$CLI" python3 -c '
import socket, sys
socks = []
for i in range(11, 17):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("192.0.2.%d" % i, 0))
    socks.append(s)
for _ in range(3):
    for s in socks:
        s.sendto(bytes.fromhex(sys.argv[1]), ("192.0.2.1", 1701))' "$sccrq"
sleep 0.5
sccrq_in=$(received 1701 "$sccrq")
echo "info: of 18 SCCRQs from 6 sources, $sccrq_in reached the server; flood_lns_l2tp_sccrq_global=$(counter flood_lns_l2tp_sccrq_global)"
check "18 SCCRQs from 6 sources are cut to about the global burst (5-7 pass)" test "$sccrq_in" -ge 5 -a "$sccrq_in" -le 7
check "the rest are counted in flood_lns_l2tp_sccrq_global" test "$(counter flood_lns_l2tp_sccrq_global)" -eq $((18 - sccrq_in))
check "no source was over its own limit (flood_lns_l2tp_sccrq stays 0)" test "$(counter flood_lns_l2tp_sccrq)" -eq 0

# Flood: 40 IKE_SA_INIT from one source as fast as Python sends them; limit 5/s burst 10.
ip netns exec "$CLI" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(40):
    s.sendto(bytes.fromhex(sys.argv[1]), ("192.0.2.1", 500))' "$(ike 0x20 34 0x08 28 | sed 's/^1122334455667788/aaaaaaaaaaaaaaaa/')"
sleep 0.5
flood_in=$(grep -c '^500 aaaaaaaaaaaaaaaa' "$WORK/received")
echo "info: of 40 IKE_SA_INIT in a burst from one source, $flood_in reached the server; flood_vpn_ike_init=$(counter flood_vpn_ike_init)"
check "a burst of 40 IKE_SA_INIT from one source is cut to about the burst (<= 12 pass)" test "$flood_in" -le 12
check "... and at least the burst passes (>= 9)" test "$flood_in" -ge 9
check "over-limit IKE_SA_INIT counted in flood_vpn_ike_init" test "$(counter flood_vpn_ike_init)" -ge 28


# ---------------------------------------------------------------- part 2: replay through a gateway
SHARED=${PC_SHARED_ROOT:-$(dirname "$0")/../../../shared}
SRC_ROOT=${PC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
in_gw() { ip netns exec "$GW" "$@"; }
for ns in "$GW" "$WN" "$LN"; do ip netns add "$ns" && ip -n "$ns" link set lo up; done
ip link add wan0 netns "$GW" type veth peer name eth0 netns "$WN"
ip link add lan0 netns "$GW" type veth peer name eth0 netns "$LN"
ip -n "$GW" addr add 203.0.113.1/24 dev wan0; ip -n "$GW" addr add 192.0.2.1/24 dev lan0
ip -n "$WN" addr add 203.0.113.10/24 dev eth0; ip -n "$LN" addr add 192.0.2.10/24 dev eth0
ip -n "$GW" addr add 2001:db8:cf::1/64 dev wan0 nodad; ip -n "$WN" addr add 2001:db8:cf::10/64 dev eth0 nodad
for l in "$GW wan0" "$GW lan0" "$WN eth0" "$LN eth0"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$WN" route add default via 203.0.113.1; ip -n "$LN" route add default via 192.0.2.1
in_gw sysctl -qw net.ipv4.ip_forward=1
# ike_init_limit off: the corpus holds retried IKE_SA_INITs replayed faster than 5/s; the limit
# has its own checks above and in ike_flood_test.sh.
cat >"$WORK/gw.toml" <<'POLICY'
[firewall]
mode = "gateway"
wan = "wan0"
lan = "lan0"
default = "drop"

[[service]]
name = "vpn"
preset = "ikev2"
forward_to = "192.0.2.10"
allow_from = ["any"]
ike_init_limit = "off"

[[service]]
name = "lns"
ports = ["udp/1701"]
forward_to = "192.0.2.10"
allow_from = ["any"]

[[service]]
name = "pptp"
preset = "pptp"
forward_to = "192.0.2.10"
allow_from = ["any"]
POLICY
"$PORTCULLIS" compile "$WORK/gw.toml" >"$WORK/gw.nft" 2>"$WORK/gw-compile.log" || { cat "$WORK/gw-compile.log"; fail "compile gateway policy"; }
in_gw nft -f "$WORK/gw.nft" && pass "gateway table with IKE, NAT-T, L2TP and GRE conformance loaded" || fail "gateway table loads"
ip netns exec "$LN" nft -f - <<'NFT'
table inet pccnfmeter {
  counter udp_in { }
  chain pre {
    type filter hook prerouting priority -300;
    ip saddr 203.0.113.10 udp dport { 500, 4500, 1701 } counter name udp_in
  }
}
NFT
lan_udp() { ip netns exec "$LN" nft list counter inet pccnfmeter udp_in | grep -o 'packets [0-9]*' | cut -d' ' -f2; }
gw_counter() { in_gw nft list counter inet portcullis "$1" | grep -o 'packets [0-9]*' | cut -d' ' -f2; }
conform_total() {
  in_gw nft list counters table inet portcullis | awk '/counter conform_/ { c = 1 } c && /packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") s += $(i + 1); c = 0 } END { print s + 0 }'
}
gw_mac=$(ip -n "$GW" link show wan0 | awk '/link\/ether/ { print $2 }')
wn_mac=$(ip -n "$WN" link show eth0 | awk '/link\/ether/ { print $2 }')

# The well-formed corpus: IPv4 client-to-server datagrams on 500/4500/1701 and GRE, unfragmented,
# fitting the lab's 1500-byte MTU, rewritten to 203.0.113.10 -> 203.0.113.1 on the lab's MACs.
corpus=(
  "$SHARED/captures/tcpdump/isakmp4500.pcap" "$SHARED/captures/tcpdump/ikev2four.pcap"
  "$SHARED/captures/tcpdump/ISAKMP_sa_setup.pcap" "$SHARED/captures/tcpdump/espudp1.pcap"
  "$SHARED/captures/tcpdump/ikev2pI2.pcap" "$SHARED/captures/suricata-verify/IKEv2_SA_INIT_2-8-weak.pcap"
  "$SHARED/captures/zeek-spicy-ipsec/ipsec.cap" "$SHARED/captures/zeek-spicy-ipsec/ipsec-ikev1-isakmp-main-mode.pcap"
  "$SHARED/captures/zeek-spicy-ipsec/ipsec-ikev1-isakmp-aggressive-mode.pcap"
  "$SHARED/captures/zeek-spicy-ipsec/ikev1-certs.pcap" "$SHARED/captures/ndpi/ipsec_isakmp_esp.pcap"
  "$SHARED/captures/ndpi/esp.pcapng"
  "$SRC_ROOT/tests/fixtures/diagnose/l2tp-session-cdn.pcap" "$SRC_ROOT/tests/fixtures/diagnose/l2tp-auth-failure.pcap"
  "$SHARED/captures/tcpdump/pptp.pcap" "$SHARED/captures/ndpi/gre.pcapng"
)
# Debian's python3-scapy lives beside /usr/bin/python3, which may not be the python3 on PATH.
scapy_python=python3
python3 -c 'import scapy' 2>/dev/null || scapy_python=/usr/bin/python3
cat >"$WORK/rewrite.py" <<'PY'
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, UDP, Ether, PcapReader, wrpcap
source, out, src_mac, dst_mac = sys.argv[1:5]
kept = []
for frame in PcapReader(source):
    ip = frame.getlayer(IP)
    if ip is None or ip.flags.MF or ip.frag or ip.len > 1500 or ip.ihl != 5:
        continue
    if not (ip.proto == 47 or (ip.haslayer(UDP) and ip[UDP].dport in (500, 4500, 1701))):
        continue
    ip = ip.copy()
    ip.src, ip.dst = "203.0.113.10", "203.0.113.1"
    del ip.chksum
    if ip.haslayer(UDP):
        del ip[UDP].chksum
    kept.append(Ether(src=src_mac, dst=dst_mac) / ip)
wrpcap(out, kept)
PY
replayed_udp=0 replayed_gre=0 files=0
for cap in "${corpus[@]}"; do
  [ -r "$cap" ] || { fail "corpus file $cap missing"; continue; }
  name=$(basename "$cap")
  # scapy, not tcprewrite: several captures are BSD-loopback (DLT_NULL) framed, which tcprewrite
  # cannot turn into Ethernet.
  "$scapy_python" "$WORK/rewrite.py" "$cap" "$WORK/r-$name.pcap" "$wn_mac" "$gw_mac" 2>"$WORK/rewrite.log" ||
    { fail "rewrite of $name: $(tail -1 "$WORK/rewrite.log")"; continue; }
  udp=$(tcpdump -r "$WORK/r-$name.pcap" -n udp 2>/dev/null | wc -l)
  gre=$(tcpdump -r "$WORK/r-$name.pcap" -n 'ip proto 47' 2>/dev/null | wc -l)
  [ $((udp + gre)) -gt 0 ] || continue
  before_lan=$(lan_udp) before_conform=$(conform_total)
  ip netns exec "$WN" tcpreplay -q -i eth0 --pps 2000 "$WORK/r-$name.pcap" >/dev/null 2>&1 || fail "tcpreplay of $name"
  sleep 0.3
  got=$(( $(lan_udp) - before_lan )) dropped=$(( $(conform_total) - before_conform ))
  echo "info: $name: $udp UDP datagrams replayed, $got reached the LAN server; $gre GRE; conformance drops $dropped"
  check "$name: every well-formed UDP datagram reaches the LAN server ($got of $udp) and no conformance drop ($dropped)" \
    test "$got" -eq "$udp" -a "$dropped" -eq 0
  replayed_udp=$((replayed_udp + udp)) replayed_gre=$((replayed_gre + gre)) files=$((files + 1))
done
echo "info: corpus: $files captures, $replayed_udp UDP datagrams and $replayed_gre enhanced-GRE packets replayed"
check "the corpus had IKE/NAT-T/L2TP datagrams and PPTP GRE to replay" test "$replayed_udp" -gt 100 -a "$replayed_gre" -gt 0

# Crafted malformed L2TP (to the gateway's udp/1701, forwarded) and GRE (IPv4 protocol 47).
before_lan=$(lan_udp)
ip netns exec "$WN" python3 - <<'PY'
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sccrq = bytes.fromhex("c802" "0014" "0000" "0000" "0000" "0000" "8008000000000001")  # SCCRQ, well-formed
bad = [
    bytes.fromhex("c802"),                                  # short
    bytes.fromhex("c8010014000000000000000080080000"),      # version 1
    bytes.fromhex("c8020010000000000000"),                  # control message of 10 bytes
    bytes.fromhex("c0020014000000000000000080080000"),      # control without S
    bytes.fromhex("ca020014000000000000000080080000"),      # v2 control with O
]
for payload in [sccrq] + bad:
    u.sendto(payload, ("203.0.113.1", 1701))
g = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
def gre(flags, proto=0x880B):
    return flags.to_bytes(2, "big") + proto.to_bytes(2, "big") + bytes.fromhex("00084000") + b"\xff" * 8
for payload in [b"\x30\x01\x88", gre(0x2000), gre(0x2001, 0x0800), gre(0x1001), gre(0xA001), gre(0x2001)]:
    g.sendto(payload, ("203.0.113.1", 0))
# GRE offsets are relative to the GRE header: behind 4 bytes of IPv4 options (NOP NOP NOP EOL) a
# well-formed header passes the checks and a 7-byte one is short; likewise over IPv6.
o = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
o.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, b"\x01\x01\x01\x00")
for payload in [gre(0x2001), gre(0x2001)[:7]]:
    o.sendto(payload, ("203.0.113.1", 0))
g6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 47)
for payload in [gre(0x2001)[:7], gre(0x2000)]:
    g6.sendto(payload, ("2001:db8:cf::1", 0))
PY
sleep 0.3
check "the well-formed SCCRQ reaches the LAN server and none of the 5 malformed L2TP datagrams does" \
  test $(( $(lan_udp) - before_lan )) -eq 1
for pair in conform_l2tp_short:2 conform_l2tp_version:1 conform_l2tp_control:2 \
            conform_gre_short:3 conform_gre_version:2 conform_gre_protocol:1 conform_gre_key:1 conform_gre_flags:1; do
  name=${pair%%:*} want=${pair##*:}
  check "gateway counter $name counted $want malformed packet(s)" test "$(gw_counter "$name")" -eq "$want"
done

if [ "$failures" -ne 0 ]; then echo "conformance_test: $failures failure(s)"; exit 1; fi
echo "conformance_test: all passed"
