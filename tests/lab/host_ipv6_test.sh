#!/usr/bin/env bash
# Lab, host mode over IPv6 (issue 2, scenario 5): the services run on the gw namespace itself; from
# the WAN clients over 2001:db8:: the allowed services answer (TCP 8000, WireGuard's UDP 51820),
# SSH answers only the management source, and every other port (TCP and UDP listeners that do run
# there) is dropped. An nmap -6 scan confirms nothing else is open.
# Env: PORTCULLIS (binary), PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
lab_require ip nft nmap socat python3
lab_require_portcullis
lab_init "h6$$"
lab_up

GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2
policy=$(lab_policy host-ipv6.toml)

listen_tcp "$GW" 22 gw-ssh
listen_tcp "$GW" 8000 gw-web
listen_tcp "$GW" 8001 gw-other
listen_udp "$GW" 51820 gw-wg
listen_udp "$GW" 9001 gw-udp-other
for p in 22 8000 8001; do wait_listen "$GW" tcp $p || lab_die "gateway listener $p did not start"; done
for p in 51820 9001; do wait_listen "$GW" udp $p || lab_die "gateway UDP listener $p did not start"; done

# Sanity before the policy: everything answers, so the drops below are the policy's doing.
check "before apply: TCP 8001 answers over IPv6" test "$(tcp_banner "$WAN2" "$LAB_WAN2_GW6" 8001)" = gw-other
check "before apply: UDP 9001 answers over IPv6" test "$(udp_banner "$WAN2" "$LAB_WAN2_GW6" 9001)" = gw-udp-other

if pc "$GW" apply "$policy" >"$LAB_DIR/apply.log" 2>&1; then
  pass "portcullis apply $(basename "$policy")"
else
  cat "$LAB_DIR/apply.log"; lab_die "portcullis apply failed"
fi
gw_ruleset >"$LAB_DIR/ruleset.txt"

check "scenario 5: allowed TCP 8000 reachable over IPv6 from 2001:db8:2::20" \
  test "$(tcp_banner "$WAN2" "$LAB_WAN2_GW6" 8000)" = gw-web
check "scenario 5: allowed TCP 8000 reachable over IPv6 from 2001:db8:1::10" \
  test "$(tcp_banner "$WAN" "$LAB_WAN_GW6" 8000)" = gw-web
check "scenario 5: WireGuard UDP 51820 answers over IPv6" \
  test "$(udp_banner "$WAN2" "$LAB_WAN2_GW6" 51820)" = gw-wg
check "scenario 5: TCP 8001 (listening, not in the policy) dropped over IPv6" \
  not tcp_probe "$WAN2" "$LAB_WAN2_GW6" 8001
check "scenario 5: UDP 9001 (listening, not in the policy) silent over IPv6" \
  test -z "$(udp_banner "$WAN2" "$LAB_WAN2_GW6" 9001)"
check "scenario 5: SSH reachable over IPv6 from the management source 2001:db8:1::10" \
  test "$(tcp_banner "$WAN" "$LAB_WAN_GW6" 22)" = gw-ssh
check "scenario 5: SSH dropped over IPv6 for 2001:db8:2::20 (not management)" \
  not tcp_probe "$WAN2" "$LAB_WAN2_GW6" 22
check "scenario 5: the same policy holds for IPv4 (TCP 8001 dropped from 198.51.100.20)" \
  not tcp_probe "$WAN2" "$LAB_WAN2_GW" 8001

nmap_scan v6-tcp "$WAN2" -6 -sS -T4 --min-rate 3000 -p 1-10000 "$LAB_WAN2_GW6"
nmap_scan v6-udp "$WAN2" -6 -sU -T4 --min-rate 1000 -p 1-1024,5353,9001,51820 "$LAB_WAN2_GW6"
open_tcp=$(nmap_ports v6-tcp open | joined)
echo "info: nmap -6 TCP from 2001:db8:2::20 open: [$open_tcp]; other: $(nmap_ignored v6-tcp)"
echo "info: nmap -6 UDP open: [$(nmap_ports v6-udp open | joined)] closed: [$(nmap_ports v6-udp closed | joined)]; other: $(nmap_ignored v6-udp)"
check "scenario 5: nmap -6 TCP scan finds exactly 8000 open" test "$open_tcp" = "tcp/8000"
check "scenario 5: nmap -6 TCP scan finds no closed port" test -z "$(nmap_ports v6-tcp closed)"
check "scenario 5: nmap -6 UDP scan: nothing open but 51820, nothing closed" \
  test -z "$(nmap_ports v6-udp open | grep -vx udp/51820)$(nmap_ports v6-udp closed)"

lab_finish
