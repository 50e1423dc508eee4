#!/usr/bin/env bash
# Lab, scan detection (issue 5) scenario 2 in gateway mode: a legitimate strongSwan client is never
# banned — IKE_SA_INIT retransmissions (the responder's replies are held back for a while), NAT-T
# keepalives every 2 s, a terminate + reconnect, and a few stray connections to closed ports —
# while a scanner from the same WAN is banned. The successes come from conntrack NEW events of the
# DNATed IKE/NAT-T flows.
# Env: PORTCULLIS, PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
lab_require ip nft socat swanctl nmap python3
lab_require_portcullis
lab_init "dvp$$"
lab_up
GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2 LAN=$LAB_NS_LAN

cat >"$LAB_DIR/policy.toml" <<TOML
[firewall]
mode = "gateway"
wan = ["wan0", "wan1"]
lan = "lan0"
wan_address = ["$LAB_WAN_GW", "$LAB_WAN2_GW"]
default = "drop"
log_drops = 9

[management]
sources = ["192.0.2.99"]
ports = ["tcp/22"]

[[service]]
name = "vpn"
preset = "ikev2"
forward_to = "$LAB_LAN_IP"
allow_from = ["any"]

[detect]
ban_base = "60s"
TOML

dmn_start daemon "$LAB_DIR/policy.toml" || lab_die "portcullis run did not come up"
pass "portcullis run is up in gateway mode with [detect]"

detected() { grep -c "\"type\":\"scan_detected\".*\"source\":\"$1\"" "$DMN_EVENTS" 2>/dev/null || true; }

sw_setup server server
SW_REMOTE=$LAB_WAN2_GW sw_setup client client
# NAT-T keepalives every 2 s instead of 20 s, so the test sees several. Only a peer behind NAT
# sends them, so the client is put behind a port-translating NAT of its own (SNAT in its
# namespace: 500 -> 1500, 4500 -> 14500), as a road warrior behind a home router is.
sed -i 's/^  install_routes = yes$/  install_routes = yes\n  keep_alive = 2s/' "$LAB_DIR/sw-client/strongswan.conf"
ns_exec "$WAN2" nft -f - <<NFT || lab_die "cannot put the client behind NAT"
table ip clientnat {
  chain post {
    type nat hook postrouting priority srcnat;
    udp sport 500 snat to $LAB_WAN2_IP:1500
    udp sport 4500 snat to $LAB_WAN2_IP:14500
  }
}
NFT
sw_start server "$LAN" || lab_die "responder charon did not start"
sw_start client "$WAN2" || lab_die "initiator charon did not start"

# Retransmissions: the responder's answers are dropped for 3 s, so the client repeats IKE_SA_INIT.
ns_exec "$LAN" nft -f - <<'NFT' || lab_die "cannot hold the responder's replies back"
table inet hold {
  chain out {
    type filter hook output priority 0;
    udp sport 500 drop
  }
}
NFT
sw_initiate client &
initiate_pid=$!
sleep 3
ns_exec "$LAN" nft delete table inet hold
wait "$initiate_pid"
if sw_wait_established client 25; then pass "the IKE_SA is established after retransmissions"; else
  fail "IKE_SA established (charon log: $(sw_log client))"; fi
check "the client did retransmit IKE_SA_INIT" grep -q 'retransmit 1 of request' "$(sw_log client)"
sleep 7   # NAT-T keepalives
check "the client sent NAT-T keepalives" grep -q 'sending keep alive' "$(sw_log client)"
keepalives=$(grep -c 'sending keep alive' "$(sw_log client)")
lab_log "NAT-T keepalives sent: $keepalives"

# Reconnect.
sw_ctl client --terminate --ike lab --timeout 10 >"$LAB_DIR/terminate.log" 2>&1
sw_initiate client
if sw_wait_established client 25; then pass "the client reconnected"; else fail "reconnect (log: $(sw_log client))"; fi

# A few stray connections to closed ports from the same client (say, an app trying its luck).
for port in 25 110 143; do tcp_probe "$WAN2" "$LAB_WAN2_GW" "$port" 1 || true; done
sleep 1
check "the VPN client was never flagged" test "$(detected "$LAB_WAN2_IP")" -eq 0
check "the VPN client is not in the ban set" not ban_has "$LAB_WAN2_IP"
check "the client's IKE_SA is still up" sh -c "swanctl --list-sas --uri unix://$LAB_DIR/sw-client/run/charon.vici | grep -q ESTABLISHED"
dmn_ctl status --json >"$LAB_DIR/status.json"
check "conntrack NEW events fed successes to the detector" \
  python3 -c "import json; d=json.load(open('$LAB_DIR/status.json'))['detect']; assert d['successes'] >= 2, d"

ns_exec "$GW" curl -s --max-time 5 http://127.0.0.1:9795/metrics >"$LAB_DIR/metrics.txt"
check "metrics: conntrack NEW events are counted" \
  sh -c "grep -E '^portcullis_detect_conntrack_events_total [1-9]' '$LAB_DIR/metrics.txt' >/dev/null"

# The same closed ports from a source without successes: four of them flag a scanner.
nmap_scan scanner "$WAN" -sS --max-retries 0 -p 25,110,143,993,995,3306 "$LAB_WAN_GW"
check "a scanner on the other WAN is flagged" wait_until 10 sh -c "[ \$(grep -c '\"type\":\"scan_detected\".*\"source\":\"$LAB_WAN_IP\"' '$DMN_EVENTS') -ge 1 ]"
check "the scanner is in the ban set" set_has banh4 "$LAB_WAN_IP"
lab_finish
