#!/usr/bin/env bash
# Focused lab test of `portcullis apply` against the real kernel (root; label "lab"):
#   1. apply, re-apply with ban/grant elements present -> elements still there
#   2. a bad policy -> exit 1, `nft list ruleset` unchanged
#   3. a policy the kernel rejects -> exit 3, ruleset unchanged, error names the compiled line
#   4. apply --confirm 3s without confirm -> rolled back to the previous table, also when the
#      applying process's whole session is SIGKILLed; a late confirm says "too late"
#   5. apply --confirm with confirm -> kept
#   6. stale un-NATed conntrack entry of a running UDP flow is deleted, the flow moves to the LAN
#   7. flush, and flush of an absent table
# Namespaces: pc-ap-wan (client) -- pc-ap-gw (eth0 WAN / eth1 LAN) -- pc-ap-lan (server).
set -euo pipefail

PORTCULLIS=${PORTCULLIS:?set PORTCULLIS to the portcullis binary}
[[ $(id -u) -eq 0 ]] || { echo "apply_test: needs root" >&2; exit 1; }

WAN=pc-ap-wan GW=pc-ap-gw LAN=pc-ap-lan
WORK=$(mktemp -d /tmp/pc-apply-test.XXXXXX)
export PORTCULLIS_RUN_DIR=$WORK/run
BACKGROUND=()

cleanup() {
    local pid
    for pid in "${BACKGROUND[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Any rollback waiter this test started (their pids are in the state files).
    for pid in $(cat "$PORTCULLIS_RUN_DIR"/pending.* 2>/dev/null | sed -n 's/.*"waiter_pid":\([0-9]*\).*/\1/p'); do
        kill "$pid" 2>/dev/null || true
    done
    for ns in $WAN $GW $LAN; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

FAILURES=0
pass() { echo "PASS: $*"; }
failed() { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else failed "$what"; fi; }

in_gw() { ip netns exec $GW "$@"; }
pc() { in_gw "$PORTCULLIS" "$@"; }
# The listing with the one thing that changes by itself removed: the time left on timed elements.
ruleset() { in_gw nft list ruleset | sed -E 's/ expires [0-9hmsd]+//g'; }
# The table's top-level objects, each as one line, sorted: replacing objects changes their
# handles and so their listing order, not what they are.
objects() { in_gw nft -s list table inet portcullis | python3 -c '
import sys
blocks, cur, depth = [], [], 0
for line in sys.stdin.read().splitlines()[1:-1]:
    if not line.strip() and depth == 0: continue
    cur.append(line.strip()); depth += line.count("{") - line.count("}")
    if depth == 0: blocks.append(" ".join(cur)); cur = []
print("\n".join(sorted(blocks)))'; }

for ns in $WAN $GW $LAN; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; done
ip link add pc-ap-w0 netns $WAN type veth peer name eth0 netns $GW
ip link add pc-ap-l0 netns $LAN type veth peer name eth1 netns $GW
ip -n $WAN addr add 203.0.113.2/24 dev pc-ap-w0
ip -n $GW addr add 203.0.113.1/24 dev eth0
ip -n $GW addr add 192.0.2.1/24 dev eth1
ip -n $LAN addr add 192.0.2.10/24 dev pc-ap-l0
for pair in "$WAN pc-ap-w0" "$GW eth0" "$GW eth1" "$LAN pc-ap-l0" "$WAN lo" "$GW lo" "$LAN lo"; do
    set -- $pair; ip -n "$1" link set "$2" up
done
ip -n $LAN route add default via 192.0.2.1
in_gw sysctl -qw net.ipv4.ip_forward=1

cat > "$WORK/host.toml" <<'TOML'
[firewall]
mode = "host"
wan = "eth0"
default = "drop"

[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]

[[service]]
name = "wg"
preset = "wireguard"
allow_from = ["any"]

[[service]]
name = "ssh"
ports = ["tcp/2222"]
guard = "grant"
allow_from = ["203.0.113.0/24"]
TOML

cat > "$WORK/gateway.toml" <<'TOML'
[firewall]
mode = "gateway"
wan = "eth0"
lan = "eth1"
default = "drop"

[management]
sources = ["203.0.113.10"]
ports = ["tcp/22"]

[[service]]
name = "wg"
preset = "wireguard"
forward_to = "192.0.2.10"
allow_from = ["any"]

[[service]]
name = "ssh"
ports = ["tcp/2222"]
guard = "grant"
allow_from = ["203.0.113.0/24"]
TOML

# --- 1. apply, then re-apply with runtime elements present --------------------------------------
check "apply creates the table" pc apply "$WORK/host.toml"
in_gw nft add element inet portcullis ban4 '{ 198.51.100.7, 203.0.113.64/26 }'
in_gw nft add element inet portcullis ban6 '{ 2001:db8:bad::/48 }'
in_gw nft add element inet portcullis grant4_ssh '{ 203.0.113.2 timeout 10m }'
check "re-apply of the same policy succeeds" pc apply "$WORK/host.toml"
check "re-apply of a different policy succeeds" pc apply "$WORK/gateway.toml"
elements=$(in_gw nft list table inet portcullis)
check "ban4 elements survive re-applies" grep -q '198.51.100.7.*203.0.113.64/26' <<<"$elements"
check "ban6 elements survive re-applies" grep -q '2001:db8:bad::/48' <<<"$elements"
check "grant elements survive re-applies" grep -q '203.0.113.2 timeout 10m' <<<"$elements"
check "the gateway policy is live (DNAT present)" grep -q 'dnat' <<<"$elements"

# --- 2. a bad policy changes nothing --------------------------------------------------------------
printf '[firewall]\nmode = "gatewy"\nwan = "eth0"\n' > "$WORK/bad.toml"
before=$(ruleset)
set +e; out=$(pc apply "$WORK/bad.toml" 2>&1); rc=$?; set -e
check "bad policy exits 1" test "$rc" -eq 1
check "bad policy error names file:line:col" grep -q "bad.toml:2:8: error" <<<"$out"
check "bad policy leaves the ruleset byte-identical" test "$before" == "$(ruleset)"

# --- 3. a policy the kernel rejects changes nothing -----------------------------------------------
# Someone redefined ban4 by hand as an IPv6 set; the new rules `ip saddr @ban4` cannot use it.
pc flush >/dev/null
in_gw nft 'add table inet portcullis; add set inet portcullis ban4 { typeof ip6 saddr; flags interval,timeout; }'
in_gw nft 'add element inet portcullis ban4 { 2001:db8::1 }'
in_gw nft 'add chain inet portcullis input { type filter hook input priority 0; policy accept; }'
before=$(ruleset)
set +e; out=$(pc apply "$WORK/gateway.toml" 2>&1); rc=$?; set -e
check "kernel-rejected policy exits 3" test "$rc" -eq 3
check "kernel rejection says nothing changed" grep -q "nothing was changed" <<<"$out"
line=$(sed -nE 's/^table:([0-9]+):.*/\1/p' <<<"$out" | head -1)
check "kernel rejection points at a line of the compiled table" \
    grep -q '@ban4' <<<"$("$PORTCULLIS" compile "$WORK/gateway.toml" | sed -n "${line:-0}p")"
check "kernel rejection leaves the ruleset byte-identical" test "$before" == "$(ruleset)"
pc flush >/dev/null

# --- 4. apply --confirm without confirm rolls back ------------------------------------------------
pc apply "$WORK/host.toml" >/dev/null
in_gw nft add element inet portcullis ban4 '{ 198.51.100.7 }'
host_objects=$(objects)
check "apply --confirm 3s succeeds" pc apply "$WORK/gateway.toml" --confirm 3s
in_gw nft add element inet portcullis ban4 '{ 198.51.100.8 }'  # a ban made during the trial
set +e; pc apply "$WORK/gateway.toml" >/dev/null 2>&1; rc=$?; set -e
check "a second apply while a confirm is pending exits 6" test "$rc" -eq 6
check "the trial table is live" grep -q dnat <<<"$(in_gw nft list table inet portcullis)"
sleep 4.5
check "after the deadline the previous table is back" test "$host_objects" == "$(objects | sed 's/, 198.51.100.8//')"
check "bans made during the trial are kept" grep -q '198.51.100.8' <<<"$(in_gw nft list set inet portcullis ban4)"
set +e; out=$(pc confirm 2>&1); rc=$?; set -e
check "a late confirm exits 6 and says too late" test "$rc" -eq 6
check "a late confirm says what the rollback did" grep -q "too late.*restored the previous table" <<<"$out"

# ... also when the applying process and its whole session are killed.
setsid bash -c "ip netns exec $GW '$PORTCULLIS' apply '$WORK/gateway.toml' --confirm 3s > '$WORK/killed.out' 2>&1; sleep 60" &
session=$!
BACKGROUND+=("$session")
for _ in $(seq 50); do grep -q "portcullis confirm" "$WORK/killed.out" 2>/dev/null && break; sleep 0.1; done
{ kill -KILL -- "-$session"; wait "$session"; } 2>/dev/null || true
check "the killed apply had applied the trial table" grep -q dnat <<<"$(in_gw nft list table inet portcullis)"
sleep 4.5
check "rollback happened although the applying session was killed" \
    test "$host_objects" == "$(objects | sed 's/, 198.51.100.8//')"

# --- 5. apply --confirm with confirm keeps the new table ------------------------------------------
pc apply "$WORK/gateway.toml" --confirm 3s >/dev/null
set +e; out=$(pc confirm 2>&1); rc=$?; set -e
check "confirm in time exits 0" test "$rc" -eq 0
check "confirm says the table stays" grep -q "confirmed" <<<"$out"
sleep 4.5
check "a confirmed table stays after the deadline" grep -q dnat <<<"$(in_gw nft list table inet portcullis)"
set +e; pc confirm >/dev/null 2>&1; rc=$?; set -e
check "confirm with nothing pending exits 6" test "$rc" -eq 6

# --- 6. stale un-NATed conntrack entries of a forwarded port are deleted --------------------------
pc apply "$WORK/host.toml" >/dev/null   # wg accepted locally: the flow's conntrack entry is un-NATed
# Started with `ip netns exec` directly (it execs socat), so $! is the process to stop later.
ip netns exec $GW socat -u UDP-RECV:51820 OPEN:/dev/null &
BACKGROUND+=($!)
ip netns exec $LAN socat -u UDP-RECV:51820 "OPEN:$WORK/lan.log,creat,append" &
BACKGROUND+=($!)
# A keepalive every 0.1 s from one source port, like a VPN client's (bounded: 200 packets). When
# the socat at the end of the pipe is stopped, the loop dies of SIGPIPE at its next write.
ip netns exec $WAN bash -c 'for i in $(seq 200); do echo keepalive; sleep 0.1; done' |
    ip netns exec $WAN socat -u - UDP-SENDTO:203.0.113.1:51820,sourceport=41000 &
BACKGROUND+=($!)
sleep 1
check "before the forward the flow has an un-NATed entry" \
    grep -q 'dport=51820.*src=203.0.113.1 dst=203.0.113.2' <<<"$(in_gw conntrack -L -p udp 2>/dev/null)"
out=$(pc apply "$WORK/gateway.toml")
check "apply reports deleting the stale entry" grep -q "deleted 1 stale conntrack entry" <<<"$out"
sleep 1
check "the running flow now reaches the LAN server through the DNAT" test -s "$WORK/lan.log"
check "its new conntrack entry is DNATed" \
    grep -q 'dport=51820.*src=192.0.2.10 dst=203.0.113.2' <<<"$(in_gw conntrack -L -p udp 2>/dev/null)"

# --- 7. flush ---------------------------------------------------------------------------------------
out=$(pc flush)
check "flush removes the table" grep -q "removed table inet portcullis" <<<"$out"
check "no table after flush" test -z "$(in_gw nft list tables | grep portcullis || true)"
out=$(pc flush)
check "flush of an absent table says so" grep -q "was not present" <<<"$out"

echo "apply_test: $FAILURES failure(s)"
exit $((FAILURES > 0))
