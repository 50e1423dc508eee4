#!/usr/bin/env bash
# Lab, IKE / NAT-T protocol conformance and the IKE_SA_INIT flood limit in the kernel (issue 5):
# crafted malformed datagrams to udp/500 and udp/4500 are dropped and counted per reason, well-formed
# ones (IKE_SA_INIT, NAT-T keepalive, marked IKE, ESP with a normal SPI) reach the server socket, and
# a burst of IKE_SA_INIT from one source is cut to the per-source limit.
# Topology: namespaces pc-cnf-s<pid> (server, portcullis table from `portcullis compile`) and
# pc-cnf-c<pid> (client) on a veth pair, 192.0.2.0/24. Env: PORTCULLIS. Needs root.
set -u
for tool in ip nft python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is required"; exit 1; }
done
[ -x "${PORTCULLIS:-}" ] || { echo "FAIL: PORTCULLIS must name the portcullis binary"; exit 1; }

SRV=pc-cnf-s$$ CLI=pc-cnf-c$$
WORK=$(mktemp -d /tmp/pc-cnf.XXXXXX)
failures=0
cleanup() {
  [ -f "$WORK/recv.pid" ] && kill "$(cat "$WORK/recv.pid")" 2>/dev/null
  ip netns del "$SRV" 2>/dev/null
  ip netns del "$CLI" 2>/dev/null
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
POLICY
"$PORTCULLIS" compile "$WORK/policy.toml" >"$WORK/table.nft" 2>"$WORK/compile.log" ||
  { cat "$WORK/compile.log"; echo "FAIL: portcullis compile"; exit 1; }
in_srv nft -f "$WORK/table.nft" || { echo "FAIL: nft -f of the compiled table"; exit 1; }
pass "compiled table with conformance chains loaded"

# The server: records every datagram that reaches udp/500 or udp/4500 as "port hex".
cat >"$WORK/recv.py" <<'PY'
import select, socket, sys
socks = []
for port in (500, 4500):
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

if [ "$failures" -ne 0 ]; then echo "conformance_test: $failures failure(s)"; exit 1; fi
echo "conformance_test: all passed"
