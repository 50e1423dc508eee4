#!/usr/bin/env bash
# Lab, gateway mode (issue 2, scenarios 1-3), one lab bring-up:
#  1. a real strongSwan IKEv2 PSK initiator in wan establishes an IKE_SA with the responder in lan
#     through the gateway's DNAT; NAT is detected and IKE moves to UDP 4500; ESP-in-UDP carries a
#     ping through the tunnel;
#  2. nmap TCP and UDP scans from both WAN clients find no open port but the forwarded ones (plus
#     SSH from the management source); the gateway's SSH is reachable only from 203.0.113.10;
#  3. allow_from: the partner service answers 203.0.113.10 but not 198.51.100.20.
# Env: PORTCULLIS (binary), PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
lab_require ip nft nmap socat swanctl conntrack python3
lab_require_portcullis
lab_init "gw$$"
lab_up

GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2 LAN=$LAB_NS_LAN
policy=$(lab_policy gateway.toml)

# Listeners: on the gateway itself (must stay unreachable except SSH from management) and on the
# LAN server (only the forwarded ports may be reached from WAN).
listen_tcp "$GW" 22 gw-ssh
listen_tcp "$GW" 8080 gw-admin
listen_udp "$GW" 5353 gw-udp
listen_tcp "$LAN" 80 lan-web
listen_tcp "$LAN" 9000 lan-partner
listen_udp "$LAN" 9000 lan-partner-udp
listen_tcp "$LAN" 3306 lan-db
listen_udp "$LAN" 5001 lan-udp
for p in 22 8080; do wait_listen "$GW" tcp $p || lab_die "gateway listener $p did not start"; done
for p in 80 9000 3306; do wait_listen "$LAN" tcp $p || lab_die "LAN listener $p did not start"; done

if pc "$GW" apply "$policy" >"$LAB_DIR/apply.log" 2>&1; then
  pass "portcullis apply $(basename "$policy")"
else
  cat "$LAB_DIR/apply.log"; lab_die "portcullis apply failed"
fi
gw_ruleset >"$LAB_DIR/ruleset.txt"
check "the gateway holds table inet portcullis" grep -q 'table inet portcullis' "$LAB_DIR/ruleset.txt"

# ---- 1. strongSwan IKEv2 through DNAT
sw_setup server server
SW_REMOTE=$LAB_WAN_GW sw_setup client client
sw_start server "$LAN" || lab_die "responder charon did not start"
sw_start client "$WAN" || lab_die "initiator charon did not start"
sw_initiate client
if sw_wait_established client 20; then
  pass "scenario 1: IKE_SA established between 203.0.113.10 and the gateway's WAN address"
else
  fail "scenario 1: IKE_SA established (charon log: $(sw_log client))"
fi
sas_client=$(sw_ctl client --list-sas 2>&1)
sas_server=$(sw_ctl server --list-sas 2>&1)
printf '%s\n' "$sas_client" >"$LAB_DIR/sas-client.txt"
printf '%s\n' "$sas_server" >"$LAB_DIR/sas-server.txt"
check "scenario 1: initiator logged 'remote host is behind NAT' (DNAT detected)" \
  grep -q 'remote host is behind NAT' "$(sw_log client)"
check "scenario 1: swanctl --list-sas (initiator) shows the IKE_SA on UDP 4500 to 203.0.113.1" \
  grep -qE "remote .* @ 203\.0\.113\.1\[4500\]" "$LAB_DIR/sas-client.txt"
check "scenario 1: responder in lan sees the client on UDP 4500 (un-masqueraded 203.0.113.10)" \
  grep -qE "remote .* @ 203\.0\.113\.10\[4500\]" "$LAB_DIR/sas-server.txt"
check "scenario 1: CHILD_SA installed as TUNNEL-in-UDP (ESP encapsulated in UDP 4500)" \
  grep -q 'INSTALLED, TUNNEL-in-UDP' "$LAB_DIR/sas-client.txt"
check "scenario 1: ping through the tunnel to the server's inner address $LAB_LAN_INNER" \
  ns_exec "$WAN" ping -c 3 -i 0.2 -W 2 -q "$LAB_LAN_INNER"
ns_exec "$GW" conntrack -L -p udp 2>/dev/null >"$LAB_DIR/conntrack-ike.txt"
check "scenario 1: gateway conntrack shows UDP 4500 DNATed to 192.0.2.10" \
  grep -qE 'dport=4500 src=192\.0\.2\.10 dst=203\.0\.113\.10' "$LAB_DIR/conntrack-ike.txt"

# ---- 2. nmap from wan (management source) and wan2; SSH only from management
tcp_range=1-10000
udp_ports=1-1024,1194,1701,4500,5001,5353,9000,51820
nmap_scan wan-tcp "$WAN" -sS -T4 --min-rate 3000 -p "$tcp_range" "$LAB_WAN_GW"
nmap_scan wan2-tcp "$WAN2" -sS -T4 --min-rate 3000 -p "$tcp_range" "$LAB_WAN2_GW"
nmap_scan wan-udp "$WAN" -sU -T4 --min-rate 1000 -p "$udp_ports" "$LAB_WAN_GW"
nmap_scan wan2-udp "$WAN2" -sU -T4 --min-rate 1000 -p "$udp_ports" "$LAB_WAN2_GW"

open_wan_tcp=$(nmap_ports wan-tcp open | joined)
open_wan2_tcp=$(nmap_ports wan2-tcp open | joined)
echo "info: nmap TCP from wan  (management) open: [$open_wan_tcp]; other: $(nmap_ignored wan-tcp)"
echo "info: nmap TCP from wan2 open: [$open_wan2_tcp]; other: $(nmap_ignored wan2-tcp)"
check "scenario 2: TCP scan from wan finds exactly ssh(mgmt) 22, web 8000, partner 9000 open" \
  test "$open_wan_tcp" = "tcp/22 tcp/8000 tcp/9000"
check "scenario 2: TCP scan from wan2 finds exactly web 8000 open" test "$open_wan2_tcp" = "tcp/8000"
check "scenario 2: TCP scans find no closed port (every other SYN is dropped silently)" \
  test -z "$(nmap_ports wan-tcp closed)$(nmap_ports wan2-tcp closed)"

for who in wan wan2; do
  open_udp=$(nmap_ports "$who-udp" open | joined)
  closed_udp=$(nmap_ports "$who-udp" closed | joined)
  echo "info: nmap UDP from $who open: [$open_udp] closed: [$closed_udp] open|filtered: $(nmap_ports "$who-udp" 'open|filtered' | wc -l) other: $(nmap_ignored "$who-udp")"
  unexpected=$(nmap_ports "$who-udp" open | grep -vxE 'udp/(500|4500|9000)')
  check "scenario 2: UDP scan from $who: every open port is a forwarded one (500, 4500, 9000)" test -z "$unexpected"
  check "scenario 2: UDP scan from $who: no closed port (no ICMP unreachable leaks out)" test -z "$closed_udp"
done
check "scenario 2: UDP scan from wan gets the LAN server's answer on forwarded 9000" \
  grep -qx 'udp/9000' <(nmap_ports wan-udp open)
check "scenario 2: gateway's own UDP 5353 listener is not seen open" \
  not grep -qx udp/5353 <(nmap_ports wan-udp open)

check "scenario 2: SSH on the gateway reachable from the management source 203.0.113.10" \
  test "$(tcp_banner "$WAN" "$LAB_WAN_GW" 22)" = gw-ssh
check "scenario 2: SSH on the gateway reachable from management 2001:db8:1::10 over IPv6" \
  test "$(tcp_banner "$WAN" "$LAB_WAN_GW6" 22)" = gw-ssh
check "scenario 2: SSH on the gateway unreachable from 198.51.100.20 (not management)" \
  not tcp_probe "$WAN2" "$LAB_WAN2_GW" 22
check "scenario 2: SSH on the gateway unreachable from 2001:db8:2::20 (not management)" \
  not tcp_probe "$WAN2" "$LAB_WAN2_GW6" 22
check "scenario 2: gateway's own TCP 8080 unreachable even from the management source" \
  not tcp_probe "$WAN" "$LAB_WAN_GW" 8080
check "scenario 2: forwarded web 8000 lands on the LAN server's port 80" \
  test "$(tcp_banner "$WAN2" "$LAB_WAN2_GW" 8000)" = lan-web
check "scenario 2: LAN server's unforwarded 3306 unreachable through the gateway" \
  not tcp_probe "$WAN" "$LAB_WAN_GW" 3306

# ---- 3. allow_from
check "scenario 3: partner TCP 9000 reachable from 203.0.113.10 (inside 203.0.113.0/24)" \
  test "$(tcp_banner "$WAN" "$LAB_WAN_GW" 9000)" = lan-partner
check "scenario 3: partner UDP 9000 answers 203.0.113.10" \
  test "$(udp_banner "$WAN" "$LAB_WAN_GW" 9000)" = lan-partner-udp
check "scenario 3: partner TCP 9000 unreachable from 198.51.100.20 (outside allow_from)" \
  not tcp_probe "$WAN2" "$LAB_WAN2_GW" 9000
check "scenario 3: partner UDP 9000 silent for 198.51.100.20" \
  test -z "$(udp_banner "$WAN2" "$LAB_WAN2_GW" 9000)"
check "scenario 3: 198.51.100.20 still reaches the any-source web service (its path works)" \
  test "$(tcp_banner "$WAN2" "$LAB_WAN2_GW" 8000)" = lan-web

lab_finish
