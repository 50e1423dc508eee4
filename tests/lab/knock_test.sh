#!/usr/bin/env bash
# Lab, knock sequences in the kernel (issue 4, test 4) with the REAL `knock` client (knockd package):
#  - before knocking, tcp/22 (guard = "knock") is closed;
#  - the right sequence opens it for the knocking source only (a real TCP connect succeeds; a
#    second address of the same client host still fails), over IPv4 and IPv6;
#  - a wrong step resets progress (the rest of the sequence then does not open it);
#  - a duplicated step (retransmission) does not break the sequence;
#  - `nmap -r` (sequential TCP+UDP scan) over the knock ports does not open it;
#  - the grant expires after open_for;
#  - a burst of knocks from one source is cut to its per-source limit (issue 5, flood control).
# Topology: namespaces pc-knk-s<pid> (server, portcullis table) and pc-knk-c<pid> (client) on a
# veth pair; 192.0.2.0/24 and 2001:db8:4b::/64. The table is what `portcullis compile` prints.
# Env: PORTCULLIS (binary), PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines, exits 1 on failure.
set -u
for tool in ip nft knock nmap socat; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is required (scripts/install-deps.sh)"; exit 1; }
done
[ -x "${PORTCULLIS:-}" ] || { echo "FAIL: PORTCULLIS must name the portcullis binary"; exit 1; }

SRV=pc-knk-s$$ CLI=pc-knk-c$$
WORK=$(mktemp -d /tmp/pc-knk.XXXXXX)
failures=0
source "$(dirname "${BASH_SOURCE[0]}")/../../lab/netns.sh"
cleanup() {
  [ -f "$WORK/listener.pid" ] && kill "$(cat "$WORK/listener.pid")" 2>/dev/null
  [ -f "$WORK/listener6.pid" ] && kill "$(cat "$WORK/listener6.pid")" 2>/dev/null
  netns_destroy "$SRV" "$CLI"
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
not() { ! "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }
in_cli() { ip netns exec "$CLI" "$@"; }

ip netns add "$SRV" && ip netns add "$CLI" || { echo "FAIL: cannot create namespaces"; exit 1; }
ip link add knks$$ netns "$SRV" type veth peer name knkc$$ netns "$CLI"
in_srv ip link set lo up; in_cli ip link set lo up
in_srv ip addr add 192.0.2.1/24 dev knks$$
in_srv ip addr add 2001:db8:4b::1/64 dev knks$$ nodad
in_cli ip addr add 192.0.2.2/24 dev knkc$$
in_cli ip addr add 192.0.2.3/24 dev knkc$$
in_cli ip addr add 2001:db8:4b::2/64 dev knkc$$ nodad
in_srv ip link set knks$$ up; in_cli ip link set knkc$$ up

OPEN_FOR=4
cat >"$WORK/policy.toml" <<POLICY
[firewall]
mode = "host"
wan = "knks$$"
default = "drop"
log_drops = 5

[management]
sources = ["198.51.100.7"]
ports = ["tcp/2222"]

[[service]]
name = "ssh"
ports = ["tcp/22"]
allow_from = ["any"]
guard = "knock"

[service.knock]
sequence = ["tcp/17301", "udp/28113", "tcp/11923"]
step_timeout = "3s"
open_for = "${OPEN_FOR}s"
log_group = 7
POLICY
"$PORTCULLIS" compile "$WORK/policy.toml" >"$WORK/table.nft" 2>"$WORK/compile.log" ||
  { cat "$WORK/compile.log"; echo "FAIL: portcullis compile"; exit 1; }
in_srv nft -f "$WORK/table.nft" || { echo "FAIL: nft -f of the compiled table"; exit 1; }
pass "compiled table with a knock chain loaded (nft -f)"

in_srv socat TCP4-LISTEN:22,fork,reuseaddr SYSTEM:"echo knock-ok" >/dev/null 2>&1 &
echo $! >"$WORK/listener.pid"
in_srv socat TCP6-LISTEN:22,fork,reuseaddr,ipv6only=1 SYSTEM:"echo knock-ok6" >/dev/null 2>&1 &
echo $! >"$WORK/listener6.pid"
for _ in $(seq 50); do in_srv ss -ltn | grep -q ':22 ' && break; sleep 0.1; done

# A real TCP connect from the client namespace; prints the banner or nothing.
connect4() { in_cli timeout 3 socat -u "TCP4:192.0.2.1:22,connect-timeout=1${1:+,bind=$1}" - 2>/dev/null; }
connect6() { in_cli timeout 3 socat -u "TCP6:[2001:db8:4b::1]:22,connect-timeout=1" - 2>/dev/null; }
opened4() { [ "$(connect4 "${1:-}")" = knock-ok ]; }
opened6() { [ "$(connect6)" = knock-ok6 ]; }
knock4() { in_cli knock -4 -d 100 192.0.2.1 "$@" >/dev/null; sleep 0.3; }
forget() { in_srv nft flush set inet portcullis grant4_ssh; in_srv nft flush set inet portcullis grant6_ssh; }
counter() { in_srv nft list counter inet portcullis "$1" | grep -o 'packets [0-9]*' | cut -d' ' -f2; }

check "closed before any knock" not opened4
knock4 17301:tcp 28113:udp 11923:tcp
check "right sequence (real knock client) opens tcp/22: a TCP connect succeeds" opened4
check "the grant is for the knocking source only: 192.0.2.3 on the same host is refused" not opened4 192.0.2.3
check "the grant is in grant4_ssh, added by the kernel" sh -c "ip netns exec $SRV nft list set inet portcullis grant4_ssh | grep -q 192.0.2.2"
check "success counted in knock_ssh_granted" test "$(counter knock_ssh_granted)" -eq 1

forget
check "closed again after the grant is removed" not opened4
resets_before=$(counter knock_ssh_reset)
knock4 17301:tcp 11923:tcp 28113:udp 11923:tcp
check "a wrong step (3rd port second) resets: the rest of the sequence does not open" not opened4
check "resets counted in knock_ssh_reset" test "$(counter knock_ssh_reset)" -gt "$resets_before"
knock4 17301:tcp 28113:udp 17301:tcp 11923:tcp
check "going back to the first port restarts: 1 2 1 3 does not open" not opened4

knock4 17301:tcp 17301:tcp 28113:udp 28113:udp 11923:tcp
check "duplicated steps (1 1 2 2 3) do not break the sequence" opened4

forget
in_cli nmap -n -Pn -r -sS -sU --max-retries 0 -p T:11900-11930,T:17290-17310,U:28100-28120,T:28100-28120 \
  192.0.2.1 >"$WORK/nmap.log" 2>&1
check "nmap -r over the knock ports ran" grep -q "Nmap done" "$WORK/nmap.log"
check "nmap -r over the knock ports does not open tcp/22" not opened4
check "nmap sees the knock ports filtered, never open" not grep -Eq '^(11923|17301)/tcp +open ' "$WORK/nmap.log"

knock4 17301:tcp 28113:udp 11923:tcp
check "opened for the expiry test" opened4
sleep $((OPEN_FOR + 1))
check "grant expired after open_for (${OPEN_FOR}s): connect refused" not opened4

in_cli knock -6 -d 100 2001:db8:4b::1 17301:tcp 28113:udp 11923:tcp >/dev/null; sleep 0.3
check "IPv6: the right sequence opens tcp/22 for the IPv6 source" opened6
check "IPv6: the IPv4 source was not opened by it" not opened4

# Flood control (issue 5): 40 knocks in one go from one source; its limiter (10/s, burst 20) lets
# about 20 reach the stage rules and drops the rest, counted. Two seconds later its budget has
# refilled and the right sequence opens again.
forget
in_cli knock -4 192.0.2.1 $(printf '17301:tcp %.0s' $(seq 40)) >/dev/null
limited=$(counter flood_ssh_knock)
check "issue 5: knocks over one source's limit are dropped and counted (${limited:-0} of 40)" test "${limited:-0}" -ge 15
sleep 2
knock4 17301:tcp 28113:udp 11923:tcp
check "issue 5: after the budget refills, the right sequence opens tcp/22 again" opened4

if [ "$failures" -ne 0 ]; then echo "knock_test: $failures failure(s)"; exit 1; fi
echo "knock_test: all passed"
