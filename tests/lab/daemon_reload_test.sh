#!/usr/bin/env bash
# Lab, daemon (issue 3) scenario 3, gateway mode: while two sequence-numbered UDP streams run
# through the gateway's DNAT (a steady flow and a new flow per datagram), the daemon reloads a
# changed policy 20 times (SIGHUP and `portcullis reload`, alternating): zero datagrams lost,
# grants and bans kept. Then a broken policy: reload refused with the error's location, the old
# policy stays (same generation, same ruleset), reload_failed reported.
# Env: PORTCULLIS, PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
lab_require ip nft socat python3
lab_require_portcullis
lab_init "dmn-rl$$"
lab_up
GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2 LAN=$LAB_NS_LAN
ROUNDS=${RELOAD_ROUNDS:-20}

policy_text() {  # policy_text EXTRA_PORT
  cat <<TOML
[firewall]
mode = "gateway"
wan = ["wan0", "wan1"]
lan = "lan0"
default = "drop"

[management]
sources = ["192.0.2.99"]
ports = ["tcp/22"]

[[service]]
name = "stream"
ports = ["udp/5000"]
forward_to = "192.0.2.10"
allow_from = ["any"]

[[service]]
name = "guarded"
ports = ["tcp/7000"]
forward_to = "192.0.2.10"
allow_from = ["any"]
guard = "grant"

[[service]]
name = "extra"
ports = ["tcp/$1"]
forward_to = "192.0.2.10"
allow_from = ["any"]
TOML
}
policy_text 8001 >"$LAB_DIR/a.toml"
policy_text 8002 >"$LAB_DIR/b.toml"
cp "$LAB_DIR/a.toml" "$LAB_DIR/policy.toml"

lab_bg echo "$LAN" socat "TCP-LISTEN:7000,reuseaddr,fork" EXEC:cat >/dev/null
dmn_start daemon "$LAB_DIR/policy.toml" || lab_die "portcullis run did not come up"
pass "portcullis run is up"
dmn_ctl grants add "$LAB_WAN_IP" guarded --for 600 >/dev/null 2>&1
dmn_ctl bans add "$LAB_WAN2_IP" --for 600 >/dev/null 2>&1
check "before: the grant works" tcp_probe "$WAN" "$LAB_WAN_GW" 7000 2

lab_bg receiver "$LAN" python3 "$LAB_ROOT/udp_stream.py" recv 5000 120 2 >/dev/null
wait_listen "$LAN" udp 5000 || lab_die "stream receiver did not start"
lab_bg sender-steady "$WAN" python3 "$LAB_ROOT/udp_stream.py" send "$LAB_WAN_GW" 5000 0 2 steady >/dev/null
lab_bg sender-fresh "$WAN" python3 "$LAB_ROOT/udp_stream.py" send "$LAB_WAN_GW" 5000 0 5 fresh >/dev/null
sleep 1

daemon_pid=$(dmn_pid daemon)
events_more_than() { [ "$(dmn_event_count "$1")" -gt "$2" ]; }
reloads_ok=0
for i in $(seq 1 "$ROUNDS"); do
  if [ $((i % 2)) -eq 1 ]; then cp "$LAB_DIR/b.toml" "$LAB_DIR/policy.toml"; else cp "$LAB_DIR/a.toml" "$LAB_DIR/policy.toml"; fi
  if [ $((i % 4)) -lt 2 ]; then
    dmn_ctl reload >>"$LAB_DIR/reload-loop.log" 2>&1 && reloads_ok=$((reloads_ok + 1))
  else
    before=$(dmn_event_count reloaded)
    kill -HUP "$daemon_pid"
    wait_until 10 events_more_than reloaded "$before" && reloads_ok=$((reloads_ok + 1))
  fi
done
sleep 1
lab_stop sender-steady
lab_stop sender-fresh
receiver_pid=$(cat "$LAB_DIR/receiver.pid")
wait_until 20 not kill -0 "$receiver_pid"
sed 's/^/info: receiver: /' "$LAB_DIR/receiver.log"
check "scenario 3: all $ROUNDS reloads (control + SIGHUP) succeeded ($reloads_ok)" test "$reloads_ok" -eq "$ROUNDS"
check "scenario 3: generation counted every reload" test "$(dmn_status_field generation)" -eq $((ROUNDS + 1))
check "scenario 3: the receiver saw both streams end" test "$(grep -c '^stream=' "$LAB_DIR/receiver.log")" -eq 2
check "scenario 3: zero loss on the steady flow" grep -qE '^stream=steady sent=[1-9][0-9]* .*missing=0 ' "$LAB_DIR/receiver.log"
check "scenario 3: zero loss on the new-flow-per-datagram stream" grep -qE '^stream=fresh sent=[1-9][0-9]* .*missing=0 ' "$LAB_DIR/receiver.log"
check "scenario 3: the grant survived the reloads (kernel)" set_has grant4_guarded "$LAB_WAN_IP"
check "scenario 3: the ban survived the reloads (kernel)" set_has banh4 "$LAB_WAN2_IP"
check "scenario 3: the grant still works" tcp_probe "$WAN" "$LAB_WAN_GW" 7000 2
dmn_ctl grants list >"$LAB_DIR/grants.txt" 2>&1
check "scenario 3: the daemon still lists the grant" grep -q "$LAB_WAN_IP" "$LAB_DIR/grants.txt"

# ---- broken policy
generation=$(dmn_status_field generation)
ns_exec "$GW" nft -t list ruleset >"$LAB_DIR/ruleset-before.txt"
printf '[firewall]\nmode = "gateway"\nwan = ["wan0"]\n\n[[service]]\nname = "x"\nports = ["tcp/99999"]\nallow_from = ["any"]\n' >"$LAB_DIR/policy.toml"
if dmn_ctl reload >"$LAB_DIR/reload-bad.log" 2>&1; then
  fail "scenario 3: reload of a broken policy is refused"
else
  rc=$?
  check "scenario 3: reload of a broken policy exits 4 (daemon error)" test "$rc" -eq 4
fi
sed 's/^/info: /' "$LAB_DIR/reload-bad.log"
check "scenario 3: the error names file:line:column" grep -qE "policy.toml:[0-9]+:[0-9]+" "$LAB_DIR/reload-bad.log"
check "scenario 3: the running policy stays (same generation)" test "$(dmn_status_field generation)" -eq "$generation"
ns_exec "$GW" nft -t list ruleset >"$LAB_DIR/ruleset-after.txt"
check "scenario 3: the kernel ruleset is unchanged" cmp -s "$LAB_DIR/ruleset-before.txt" "$LAB_DIR/ruleset-after.txt"
check "scenario 3: reload_failed was emitted" dmn_has_event reload_failed
kill -HUP "$daemon_pid"
wait_until 10 events_more_than reload_failed 1
check "scenario 3: SIGHUP with the broken policy is refused too" test "$(dmn_event_count reload_failed)" -ge 2
check "scenario 3: the daemon still answers and the grant still works" tcp_probe "$WAN" "$LAB_WAN_GW" 7000 2
dmn_stop daemon
lab_finish
