#!/usr/bin/env bash
# Lab, scan detection (issue 5) in `portcullis run`, host mode, one lab bring-up:
#  1. nmap SYN, connect, FIN, NULL, XMAS, ACK and UDP scans from wan2 are each banned within four
#     probes to closed ports (counted by the detector's scan_detected event), labelled with the
#     scan type; the ban is in the kernel set and the scanner's next connection is dropped;
#  1b. the same during a bounded flood of logged drops from another source (per-source log meter);
#  2. the management source scans 20 ports: never banned; a client of an exposed service with
#     retransmissions to one closed port is never banned either;
#  5. escalation and expiry with short durations (IPv6 source): 3 s, 6 s, 12 s, 12 s (cap); each
#     ban expires in the kernel and is reported; the offence count survives a daemon restart;
#  6. IPv6 scan banned per address; with ipv6_prefix = 64 (reload) four addresses of one /64
#     probing one port each are banned as the /64.
# Env: PORTCULLIS, PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
lab_require ip nft socat python3 nmap hping3
lab_require_portcullis
lab_init "dsc$$"
lab_up
GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2

write_policy() {  # write_policy IPV6_PREFIX
  cat >"$LAB_DIR/policy.toml" <<TOML
[firewall]
mode = "host"
wan = ["wan0", "wan1"]
default = "drop"
log_drops = 7

[management]
sources = ["$LAB_WAN_IP", "$LAB_WAN_IP6"]
ports = ["tcp/22"]

[[service]]
name = "web"
ports = ["tcp/8000"]
allow_from = ["any"]

[detect]
ban_base = "3s"
ban_cap = "12s"
jitter = 0
ipv6_prefix = $1
TOML
}
write_policy 128

listen_tcp "$GW" 8000 web
wait_listen "$GW" tcp 8000 || lab_die "listener did not start"
dmn_start daemon "$LAB_DIR/policy.toml" --metrics 127.0.0.1:9796 || lab_die "portcullis run did not come up"
pass "portcullis run is up with [detect]"

# scan_events SOURCE: the scan_detected events of SOURCE, one JSON object a line.
scan_events() {
  python3 - "$DMN_EVENTS" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    event = json.loads(line)
    if event.get("type") == "scan_detected" and event.get("source") == sys.argv[2]:
        print(json.dumps(event))
PY
}
scan_count() { scan_events "$1" | wc -l; }
# last_field SOURCE FIELD: FIELD of SOURCE's latest scan_detected event.
last_field() { scan_events "$1" | tail -n1 | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
# ban_seconds_of PREFIX N: "seconds" of the N-th ban_added event for PREFIX (1-based).
ban_seconds_of() {
  python3 - "$DMN_EVENTS" "$1" "$2" <<'PY'
import json, sys
bans = [json.loads(l) for l in open(sys.argv[1])]
bans = [e for e in bans if e.get("type") == "ban_added" and e.get("prefix") == sys.argv[2]]
n = int(sys.argv[3])
print(bans[n - 1]["seconds"] if len(bans) >= n else "none")
PY
}
more_than() { [ "$(scan_count "$1")" -gt "$2" ]; }

# ---- 1. every nmap scan type from wan2 is banned within four probes
port=2000
for scan in "-sS tcp-syn" "-sT tcp-syn" "-sF tcp-fin" "-sN tcp-null" "-sX tcp-xmas" "-sA tcp-ack" "-sU udp"; do
  set -- $scan
  flag=$1 label=$2
  before=$(scan_count "$LAB_WAN2_IP")
  nmap_scan "v4$flag" "$WAN2" "$flag" --max-retries 0 --host-timeout 30s -p "$port-$((port + 9))" "$LAB_WAN2_GW"
  port=$((port + 10))
  if wait_until 10 more_than "$LAB_WAN2_IP" "$before"; then
    probes=$(last_field "$LAB_WAN2_IP" probes)
    type=$(last_field "$LAB_WAN2_IP" scan_type)
    check "scenario 1: nmap $flag is banned after $probes probes (<= 4)" test "$probes" -le 4
    check "scenario 1: nmap $flag is labelled $label (event says $type)" test "$type" = "$label"
    check "scenario 1: nmap $flag: the source is in the kernel ban set" set_has banh4 "$LAB_WAN2_IP"
    check "scenario 1: nmap $flag: the banned source cannot reach the exposed service" \
      not tcp_probe "$WAN2" "$LAB_WAN2_GW" 8000 1
  else
    fail "scenario 1: nmap $flag from $LAB_WAN2_IP produced no scan_detected event"
  fi
  dmn_ctl bans remove "$LAB_WAN2_IP" >/dev/null 2>&1
  wait_until 5 not ban_has "$LAB_WAN2_IP"
  # The kernel meters logged drops per source (2/s, burst 5): a real ban outlasts the refill,
  # this manual unban does not, so give the meter the 2.5 s it needs before the next scan.
  sleep 3
done
check "scenario 1: after removing the ban the scanner reaches the service again" \
  test "$(tcp_banner "$WAN2" "$LAB_WAN2_GW" 8000)" = web

# ---- 2. never banned: the management source scanning; a client retrying one closed port
nmap_scan mgmt "$WAN" -sS --max-retries 0 -p 3000-3019 "$LAB_WAN_GW"
ns_exec "$WAN" timeout 30 nmap -6 -n -Pn -sS --max-retries 0 -p 3000-3019 "$LAB_WAN_GW6" >/dev/null 2>&1
sleep 1
check "scenario 2: the management source (v4) scanned 20 ports and was not flagged" test "$(scan_count "$LAB_WAN_IP")" -eq 0
check "scenario 2: the management source (v6) scanned 20 ports and was not flagged" test "$(scan_count "$LAB_WAN_IP6")" -eq 0
check "scenario 2: the management source is not in the ban set" not ban_has "$LAB_WAN_IP"
for _ in $(seq 1 10); do
  test "$(tcp_banner "$WAN2" "$LAB_WAN2_GW" 8000)" = web || true
  tcp_probe "$WAN2" "$LAB_WAN2_GW" 4444 0 || true   # the same closed port, again and again
done
before=$(scan_count "$LAB_WAN2_IP")
sleep 1
check "scenario 2: ten retries to one closed port beside a working service do not ban" \
  test "$(scan_count "$LAB_WAN2_IP")" -eq "$before"
check "scenario 2: ... and the client still reaches the service" test "$(tcp_banner "$WAN2" "$LAB_WAN2_GW" 8000)" = web

# ---- 1b. a scan during a flood of logged drops from another source is still banned in 4 probes:
# the management source (trusted, never banned) floods one closed port (bounded: 30,000 SYNs at
# ~10k/s); the per-source log meter keeps it from spending the shared 10/s log budget.
lab_bg flood "$WAN" timeout 10 hping3 -q -S -p 4444 -i u100 -c 30000 "$LAB_WAN_GW" >/dev/null
FRESH=198.51.100.77   # a scanner with no history (wan2's own address has earlier contacts)
ip -n "$WAN2" addr add "$FRESH/24" dev eth0
sleep 1
nmap_scan during-flood "$WAN2" -sS -S "$FRESH" -e eth0 --max-retries 0 --host-timeout 30s -p 4000-4009 "$LAB_WAN2_GW"
if wait_until 10 more_than "$FRESH" 0; then
  check "scenario 1b: a SYN scan during a 10k/s flood of logged drops is banned within 4 probes" \
    test "$(last_field "$FRESH" probes)" -le 4
  check "scenario 1b: the scanner is in the ban set" set_has banh4 "$FRESH"
else
  fail "scenario 1b: a SYN scan during a flood of logged drops was not detected"
fi
check "scenario 1b: the flood was still running when the scan was banned" kill -0 "$(cat "$LAB_DIR/flood.pid")"
lab_stop flood
check "scenario 1b: the flooding management source was not banned" not ban_has "$LAB_WAN_IP"

# ---- 5 + 6. IPv6 scanner: banned, escalated, expired; offences survive a restart
V6=$LAB_WAN2_IP6
scan6() {  # scan6 ROUND
  local before
  before=$(scan_count "$V6")
  ns_exec "$WAN2" timeout 40 nmap -6 -n -Pn -sS --max-retries 0 --host-timeout 20s \
    -p "$((5000 + $1 * 10))-$((5009 + $1 * 10))" "$LAB_WAN2_GW6" >"$LAB_DIR/nmap-v6-$1.log" 2>&1
  wait_until 10 more_than "$V6" "$before"
}
expected=(3 6 12 12)
for round in 1 2 3 4; do
  if scan6 "$round"; then
    check "scenario 6: IPv6 scan round $round is flagged within 4 probes" test "$(last_field "$V6" probes)" -le 4
    check "scenario 5: round $round ban lasts ${expected[$((round - 1))]} s" \
      test "$(ban_seconds_of "$V6" "$round")" = "${expected[$((round - 1))]}"
    check "scenario 6: round $round: $V6 is in banh6" set_has banh6 "$V6"
    check "scenario 5: round $round: the ban expires in the kernel" \
      wait_until $((expected[$((round - 1))] + 5)) not ban_has "$V6"
  else
    fail "scenario 6: IPv6 scan round $round produced no scan_detected event"
  fi
done
wait_until 5 grep -q '"reason":"expired"' "$DMN_EVENTS"
check "scenario 5: expiry is reported (ban_removed reason expired)" grep -q '"type":"ban_removed".*"reason":"expired"' "$DMN_EVENTS"
check "scenario 5: the state file remembers the offences" grep -q "\"$V6\"" "$DMN_STATE"
dmn_stop daemon
dmn_start daemon2 "$LAB_DIR/policy.toml" --metrics 127.0.0.1:9796 || lab_die "restart failed"
if scan6 5; then
  check "scenario 5: after a restart the fifth offence is still capped at 12 s" test "$(ban_seconds_of "$V6" 5)" = 12
  check "scenario 5: after a restart the offence count continued (5)" test "$(last_field "$V6" offence)" = 5
else
  fail "scenario 5: scan after restart produced no scan_detected event"
fi
wait_until 20 not ban_has "$V6"

# ---- 6. /64 aggregation after a reload
write_policy 64
dmn_ctl reload >"$LAB_DIR/reload.log" 2>&1 || { cat "$LAB_DIR/reload.log"; fail "reload with ipv6_prefix = 64"; }
for i in 31 32 33 34; do ip -n "$WAN2" -6 addr add "2001:db8:2::$i/64" dev eth0 nodad; done
for i in 31 32 33 34; do
  ns_exec "$WAN2" timeout 3 socat -T1 /dev/null "TCP6:[$LAB_WAN2_GW6]:$((6000 + i)),bind=[2001:db8:2::$i],connect-timeout=1" 2>/dev/null
done
check "scenario 6: four addresses of one /64, one closed port each, ban the /64" wait_until 10 set_has ban6 "2001:db8:2::/64"
check "scenario 6: the /64 ban stops another address of it" not tcp_probe "$WAN2" "$LAB_WAN2_GW6" 8000 1
check "scenario 6: the management source's /64 is not touched" not set_has ban6 "2001:db8:1::/64"

# ---- metrics and status
ns_exec "$GW" curl -s --max-time 5 http://127.0.0.1:9796/metrics >"$LAB_DIR/metrics.txt"
metric_value() {  # (Debian python3: python3-prometheus-client) metric_value 'NAME{labels}': the sample's value, parsed as Prometheus text
  /usr/bin/python3 - "$LAB_DIR/metrics.txt" "$1" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
name, _, labels = sys.argv[2].partition("{")
wanted = dict(kv.split("=") for kv in labels.rstrip("}").replace('"', "").split(",")) if labels else {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for sample in family.samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
            print(int(sample.value))
            sys.exit(0)
print("missing")
PY
}
check "metrics: scan bans placed since the restart are counted" test "$(metric_value 'portcullis_detect_bans_total{result=placed}')" -ge 2
check "metrics: detections by reason" test "$(metric_value 'portcullis_detect_detections_total{reason=trw}')" -ge 2
check "metrics: tracked sources gauge is exported" test "$(metric_value portcullis_detect_tracked_sources)" != missing
check "metrics: evicted sources counter is exported" test "$(metric_value portcullis_detect_evicted_sources_total)" = 0
check "metrics: active bans by reason" test "$(metric_value 'portcullis_bans_by_reason{reason=scan}')" -ge 1
dmn_ctl status --json >"$LAB_DIR/status.json"
check "status: detect block reports detections" \
  python3 -c "import json; d=json.load(open('$LAB_DIR/status.json'))['detect']; assert d['enabled'] and d['detections'] >= 1, d"
lab_finish
