#!/usr/bin/env bash
# Lab, daemon (issue 3) scenarios 1 and 4, gateway mode, one lab bring-up:
#  1. grants: `portcullis grants add` opens the guarded service (DNATed to the LAN server) for one
#     source for a few seconds: a real TCP connection succeeds inside the window and fails after
#     it; a connection made inside the window keeps working after expiry; other sources never
#     get in; the daemon reports grant_expired.
#  4. SIGKILL: the table stays, no port opens, a grant still expires on time with no daemon; a
#     restarted daemon sees the surviving grant and ban and carries on.
# Env: PORTCULLIS, PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
lab_require ip nft socat python3
lab_require_portcullis
lab_init "dmn-gr$$"
lab_up
GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2 LAN=$LAB_NS_LAN

cat >"$LAB_DIR/policy.toml" <<'TOML'
[firewall]
mode = "gateway"
wan = ["wan0", "wan1"]
lan = "lan0"
default = "drop"

[management]
sources = ["192.0.2.99"]
ports = ["tcp/22"]

[[service]]
name = "guarded"
ports = ["tcp/7000"]
forward_to = "192.0.2.10"
allow_from = ["any"]
guard = "grant"
TOML

# An echo server on the LAN: every byte comes back, so a connection is provably alive.
lab_bg echo "$LAN" socat "TCP-LISTEN:7000,reuseaddr,fork" EXEC:cat >/dev/null
lab_bg other "$LAN" socat "TCP-LISTEN:7001,reuseaddr,fork" EXEC:cat >/dev/null
wait_listen "$LAN" tcp 7000 || lab_die "echo server did not start"

dmn_start daemon "$LAB_DIR/policy.toml" || lab_die "portcullis run did not come up"
pass "portcullis run is up and answers on its control socket"

# ---- 1. grants
check "scenario 1: before any grant the guarded service is closed to 203.0.113.10" \
  not tcp_probe "$WAN" "$LAB_WAN_GW" 7000 1
GRANT_SECONDS=6
dmn_ctl grants add "$LAB_WAN_IP" guarded --for $GRANT_SECONDS >"$LAB_DIR/grant.log" 2>&1
granted_at=$SECONDS
check "scenario 1: grants add exits 0" grep -q "granted" "$LAB_DIR/grant.log"
check "scenario 1: the kernel set grant4_guarded holds 203.0.113.10" set_has grant4_guarded "$LAB_WAN_IP"
check "scenario 1: inside the window a TCP connection from 203.0.113.10 succeeds" tcp_probe "$WAN" "$LAB_WAN_GW" 7000 2
check "scenario 1: the other WAN client (not granted) is still refused" not tcp_probe "$WAN2" "$LAB_WAN2_GW" 7000 1

# A connection opened now, used again after the grant expired: established flows survive.
cat >"$LAB_DIR/longlived.py" <<PY
import socket, sys, time
s = socket.create_connection(("$LAB_WAN_GW", 7000), timeout=3)
s.sendall(b"inside\n")
print("first:", s.recv(100).decode().strip(), flush=True)
time.sleep($GRANT_SECONDS + 4)
s.sendall(b"after-expiry\n")
s.settimeout(3)
print("second:", s.recv(100).decode().strip(), flush=True)
PY
lab_bg longlived "$WAN" python3 "$LAB_DIR/longlived.py" >/dev/null
sleep 1
elapsed=$((SECONDS - granted_at))
sleep $((GRANT_SECONDS - elapsed + 2))
check "scenario 1: after expiry a new TCP connection from 203.0.113.10 fails" not tcp_probe "$WAN" "$LAB_WAN_GW" 7000 1
check "scenario 1: the kernel expired the element" not set_has grant4_guarded "$LAB_WAN_IP"
wait_until 5 dmn_has_event grant_expired
check "scenario 1: the daemon emitted grant_expired" dmn_has_event grant_expired
dmn_ctl grants list --json >"$LAB_DIR/grants-after-expiry.json"
check "scenario 1: grants list no longer shows 203.0.113.10" not grep -q "\"$LAB_WAN_IP\"" "$LAB_DIR/grants-after-expiry.json"
longlived_pid=$(cat "$LAB_DIR/longlived.pid")
wait_until 15 not kill -0 "$longlived_pid"
sed 's/^/info: longlived: /' "$LAB_DIR/longlived.log"
check "scenario 1: the connection made inside the window still works after expiry" \
  grep -q "second: after-expiry" "$LAB_DIR/longlived.log"

# ---- 4. SIGKILL, the table stays, grants expire without the daemon, restart reconciles
dmn_ctl grants add "$LAB_WAN_IP" guarded --for 5 >/dev/null 2>&1
dmn_ctl grants add "$LAB_WAN2_IP" guarded --for 600 >/dev/null 2>&1
dmn_ctl bans add 203.0.113.77 --for 600 >/dev/null 2>&1
short_granted_at=$SECONDS
kill -KILL "$(dmn_pid daemon)"
wait_until 5 not kill -0 "$(dmn_pid daemon)"
check "scenario 4: after SIGKILL the table is still there" table_exists
check "scenario 4: the granted source still gets in (state is in the kernel)" tcp_probe "$WAN" "$LAB_WAN_GW" 7000 1
check "scenario 4: no port opened: 7001 on the LAN server stays unreachable" not tcp_probe "$WAN" "$LAB_WAN_GW" 7001 1
sleep $((5 - (SECONDS - short_granted_at) + 2))
check "scenario 4: the 5 s grant expired on time with no daemon running" not tcp_probe "$WAN" "$LAB_WAN_GW" 7000 1
check "scenario 4: the 600 s grant is still in the kernel" set_has grant4_guarded "$LAB_WAN2_IP"
dmn_start daemon2 "$LAB_DIR/policy.toml" || lab_die "restarted daemon did not come up"
dmn_ctl grants list --json >"$LAB_DIR/grants-after-restart.json"
dmn_ctl bans list --json >"$LAB_DIR/bans-after-restart.json"
check "scenario 4: the restarted daemon sees the surviving grant" grep -q "\"$LAB_WAN2_IP\"" "$LAB_DIR/grants-after-restart.json"
check "scenario 4: ... and not the expired one" not grep -q "\"$LAB_WAN_IP\"" "$LAB_DIR/grants-after-restart.json"
check "scenario 4: the restarted daemon sees the ban" grep -q '"203.0.113.77"' "$LAB_DIR/bans-after-restart.json"
check "scenario 4: the surviving grant still works after the restart" tcp_probe "$WAN2" "$LAB_WAN2_GW" 7000 2
dmn_ctl grants revoke "$LAB_WAN2_IP" guarded >/dev/null 2>&1
check "scenario 4: the restarted daemon carries on (revoke works, the source is shut out)" \
  not tcp_probe "$WAN2" "$LAB_WAN2_GW" 7000 1

dmn_stop daemon2
check "SIGTERM leaves the table in place (fail-closed)" table_exists
lab_finish
