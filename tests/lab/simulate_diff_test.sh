#!/usr/bin/env bash
# Lab, differential test of `portcullis simulate` against the kernel (issue 6).
# One capture mixing allowed and refused traffic is replayed from the WAN side into a gateway that
# holds the applied policy; the set of packets that reach the LAN must equal the packets simulate
# says are accepted and forwarded.
#  * capture: the shared NAT-T capture (tcpdump/isakmp4500.pcap) rewritten with tcprewrite (sources
#    into 203.0.113.0/24, every destination the gateway's WAN address), plus crafted packets (UDP,
#    TCP SYN and stray ACKs, ESP, GRE, ICMP, unknown protocol) from allowed and refused sources;
#    MACs rewritten to the veth pair's, checksums recomputed;
#  * replay: tcpreplay in pc-sim-wan at a bounded rate; capture: tcpdump in pc-sim-lan, where the
#    server is silenced (an nft drop at prerouting after the capture tap), so the kernel's
#    conntrack sees no replies — exactly what simulate sees in the same capture;
#  * comparison: packets keyed by (source, protocol, IP id, length, source port), as multisets.
# Env: PORTCULLIS, PC_SOURCE_ROOT, PC_SHARED_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
lab_require ip nft tcpreplay tcprewrite tcpdump tshark python3 timeout
lab_require_portcullis
SHARED=${PC_SHARED_ROOT:-$(cd "$LAB_ROOT/../../shared" 2>/dev/null && pwd)}
[ -f "$SHARED/captures/tcpdump/isakmp4500.pcap" ] || { echo "FAIL: shared captures not found (PC_SHARED_ROOT)"; exit 1; }
lab_init "sim"
lab_up
GW=$LAB_NS_GW WAN=$LAB_NS_WAN LAN=$LAB_NS_LAN
D=$LAB_DIR

cat >"$D/policy.toml" <<'EOF'
[firewall]
mode = "gateway"
wan = "wan0"
lan = "lan0"
wan_address = "203.0.113.1"
default = "drop"

[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]

[[service]]
name = "vpn"
preset = "ikev2"
forward_to = "192.0.2.10"
allow_from = ["any"]

[[service]]
name = "files"
ports = ["tcp/21"]
forward_to = "192.0.2.10"
allow_from = ["203.0.113.128/25"]

[[service]]
name = "wg"
preset = "wireguard"
forward_to = "192.0.2.10"
allow_from = ["203.0.113.0/25"]
EOF

# ---- the capture
timeout 30 tcprewrite --infile="$SHARED/captures/tcpdump/isakmp4500.pcap" --outfile="$D/natt.pcap" \
  --srcipmap=192.1.2.0/24:203.0.113.0/24 --dstipmap=0.0.0.0/0:203.0.113.1/32 --fixcsum \
  || lab_die "tcprewrite of the shared capture failed"

python3 - "$D/natt.pcap" "$D/merged.pcap" <<'EOPY' || lab_die "crafting the capture failed"
import struct, sys
src_path, out_path = sys.argv[1], sys.argv[2]

def read_pcap(path):
    data = open(path, 'rb').read()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    link = struct.unpack(endian + 'I', data[20:24])[0]
    assert link == 1, 'expected Ethernet'
    off, frames = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames

def ip4(a):
    return bytes(int(x) for x in a.split('.'))

ident = [0x5000]
def ipv4(src, proto, payload, dst='203.0.113.1'):
    ident[0] += 1  # unique IP ids make every crafted packet identifiable on the LAN side
    header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident[0], 0, 64, proto, 0,
                         ip4(src), ip4(dst))
    return header + payload

def eth(ip):
    return b'\x02\x00\x00\x00\x00\x02' + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x00' + ip

def udp(src, sport, dport, body=b'\x00' * 24):
    return eth(ipv4(src, 17, struct.pack('!HHHH', sport, dport, 8 + len(body), 0) + body))

def tcp(src, sport, dport, flags):
    return eth(ipv4(src, 6, struct.pack('!HHIIBBHHH', sport, dport, 1000, 0 if flags == 0x02 else 1,
                                         5 << 4, flags, 65535, 0, 0)))

def raw(src, proto, body=b'\x00' * 24):
    return eth(ipv4(src, proto, body))

crafted = []
# IKE / NAT-T / ESP from anyone: forwarded.
for i in range(3): crafted.append(udp('203.0.113.20', 500, 500))
for i in range(2): crafted.append(udp('203.0.113.20', 4500, 4500, b'\x00\x00\x00\x00' + b'\x11' * 20))
for i in range(3): crafted.append(raw('203.0.113.20', 50, struct.pack('!II', 0x1001, i + 1) + b'\xcc' * 16))
# files (tcp/21) only from 203.0.113.128/25.
crafted.append(tcp('203.0.113.200', 41000, 21, 0x02))
crafted.append(tcp('203.0.113.200', 41000, 21, 0x10))
crafted.append(tcp('203.0.113.30', 41001, 21, 0x02))
# wireguard only from 203.0.113.0/25.
crafted.append(udp('203.0.113.30', 50000, 51820, b'\x01' + b'\x00' * 147))
crafted.append(udp('203.0.113.30', 50000, 51820, b'\x04' + b'\x00' * 31))
crafted.append(udp('203.0.113.200', 50001, 51820, b'\x01' + b'\x00' * 147))
# closed ports, stray ACK, management SSH (delivered to the gateway, never on the LAN), GRE,
# ICMP echo, an unknown protocol.
crafted.append(tcp('203.0.113.40', 42000, 23, 0x02))
crafted.append(udp('203.0.113.40', 42001, 53))
crafted.append(tcp('203.0.113.201', 42002, 21, 0x10))
crafted.append(tcp('203.0.113.10', 42003, 22, 0x02))
crafted.append(raw('203.0.113.40', 47, b'\x00\x00\x08\x00' + b'\x00' * 20))
crafted.append(raw('203.0.113.40', 1, b'\x08\x00\x00\x00\x12\x34\x00\x01' + b'\x00' * 16))
crafted.append(raw('203.0.113.40', 253))

frames = [f for f in read_pcap(src_path) if f[12:14] == b'\x08\x00'] + crafted
with open(out_path, 'wb') as out:
    out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        usec = 1700000000 * 1000000 + i * 10000  # 10 ms apart: the replay rate below
        out.write(struct.pack('<IIII', usec // 1000000, usec % 1000000, len(f), len(f)))
        out.write(f)
print(len(frames))
EOPY

wan_mac=$(ip -n "$WAN" -br link show eth0 | awk '{print $3}')
gw_mac=$(ip -n "$GW" -br link show "$LAB_GW_WAN_IF" | awk '{print $3}')
timeout 30 tcprewrite --infile="$D/merged.pcap" --outfile="$D/replay.pcap" \
  --enet-smac="$wan_mac" --enet-dmac="$gw_mac" --fixcsum || lab_die "tcprewrite of MACs failed"
frames=$(tshark -r "$D/replay.pcap" 2>/dev/null | wc -l)
[ "$frames" -gt 40 ] && pass "replay capture built ($frames frames)" || fail "replay capture has $frames frames"

# ---- the gateway and the silent server
if pc "$GW" apply "$D/policy.toml" >"$D/apply.log" 2>&1; then pass "portcullis apply"; else cat "$D/apply.log"; lab_die "apply failed"; fi
ns_exec "$GW" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.$LAB_GW_WAN_IF.rp_filter=0
ns_exec "$LAN" nft -f - <<'EOF' || lab_die "cannot silence the LAN server"
table inet pc_sim_sink {
	chain pre {
		type filter hook prerouting priority -400; policy drop;
	}
}
EOF
ns_exec "$GW" ping -c1 -W1 -q "$LAB_LAN_IP" >/dev/null 2>&1  # learn the server's MAC first

# ---- simulate on the same capture (everything arrives on the gateway's WAN interface)
"$PORTCULLIS" simulate "$D/policy.toml" "$D/replay.pcap" --json --iif "$LAB_GW_WAN_IF" >"$D/sim.jsonl" \
  || lab_die "simulate failed"
python3 - "$D/sim.jsonl" >"$D/expected.txt" <<'EOPY'
import json, sys
protos = {'tcp': 6, 'udp': 17, 'icmp': 1, 'gre': 47, 'esp': 50}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if 'frame' not in o or o['verdict'] != 'accept' or o['path'] != 'forward':
        continue
    proto = protos.get(o['proto'], o['proto'].replace('proto-', ''))
    print(o['src'], proto, o['ip_id'], o['length'], o.get('sport', '-'))
EOPY
sort -o "$D/expected.txt" "$D/expected.txt"
read -r sim_drops sim_input < <(python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if "frame" in r]
print(sum(r["verdict"] in ("drop", "reject") for r in rows),
      sum(r["verdict"] == "accept" and r["path"] == "input" for r in rows))' "$D/sim.jsonl")

# ---- replay through the kernel, capture on the LAN
lab_bg lan-dump "$LAN" timeout 60 tcpdump -n -i eth0 -Q in -U -w "$D/lan.pcap" "ip and dst host $LAB_LAN_IP" >/dev/null
sleep 1.5
ns_exec "$WAN" timeout 60 tcpreplay -q --pps=100 -i eth0 "$D/replay.pcap" >"$D/tcpreplay.log" 2>&1 \
  || { cat "$D/tcpreplay.log"; lab_die "tcpreplay failed"; }
sleep 1.5
lab_stop lan-dump
tshark -r "$D/lan.pcap" -T fields -E separator=/t -e ip.src -e ip.proto -e ip.id -e ip.len \
  -e udp.srcport -e tcp.srcport 2>/dev/null | python3 -c '
import sys
for line in sys.stdin:
    src, proto, ident, length, usport, tsport = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
    print(src, proto, int(ident, 0), length, usport or tsport or "-")' | sort >"$D/observed.txt"

expected=$(wc -l <"$D/expected.txt") observed=$(wc -l <"$D/observed.txt")
echo "simulate: $expected forwarded, $sim_drops dropped, $sim_input delivered to the gateway; LAN saw $observed"
check "simulate forwards a real share of the capture (>= 30 packets)" [ "$expected" -ge 30 ]
check "simulate drops part of the capture (>= 8 packets)" [ "$sim_drops" -ge 8 ]
if diff -u "$D/expected.txt" "$D/observed.txt" >"$D/diff.txt"; then
  pass "packets on the LAN == simulate's forwarded accepts ($observed packets)"
else
  fail "packets on the LAN differ from simulate's forwarded accepts"; head -40 "$D/diff.txt"
fi
lab_finish
