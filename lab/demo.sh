#!/usr/bin/env bash
# `make demo`: build a namespace lab (two internet clients, a gateway, a LAN VPN server), put the
# example IKEv2 gateway policy on the gateway with portcullis, connect a real strongSwan client
# through it, scan the gateway with nmap, and say in plain words what happened. Tears everything
# down at the end (also on Ctrl-C or failure). Needs root and scripts/install-deps.sh's packages.
#
#   sudo lab/demo.sh PATH/TO/portcullis
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PORTCULLIS=$(realpath "${1:-${PORTCULLIS:-$HERE/../build/release/portcullis}}" 2>/dev/null || true)
export PC_SOURCE_ROOT=${PC_SOURCE_ROOT:-$(cd "$HERE/.." && pwd)}
source "$HERE/lib.sh"
if [ "$(id -u)" -ne 0 ]; then echo "demo: run as root (it creates network namespaces)"; exit 1; fi
lab_require ip nft nmap socat swanctl conntrack python3
lab_require_portcullis

say() { printf '\n== %s\n' "$*"; }
line() { printf '   %s\n' "$*"; }

lab_init "demo$$"
say "Building the lab: network namespaces joined by virtual cables"
lab_up
line "internet client  $LAB_NS_WAN   203.0.113.10  (the admin workstation: management source)"
line "internet client  $LAB_NS_WAN2  198.51.100.20 (a stranger)"
line "gateway          $LAB_NS_GW    wan0 203.0.113.1, wan1 198.51.100.1, lan0 192.0.2.1"
line "VPN server       $LAB_NS_LAN   192.0.2.10    (strongSwan IKEv2 responder)"

GW=$LAB_NS_GW
policy=$HERE/policies/demo-gateway.toml
listen_tcp "$GW" 22 gateway-ssh
listen_tcp "$GW" 8080 gateway-admin-ui
wait_listen "$GW" tcp 22 && wait_listen "$GW" tcp 8080 || lab_die "listeners on the gateway did not start"
line "the gateway also runs SSH (22) and an admin web UI (8080) that nobody outside should see"

say "portcullis check: what the policy exposes ($(basename "$policy"))"
pc "$GW" check "$policy" 2>&1 | sed 's/^/   | /'

say "portcullis apply: compile to one nftables table and replace it atomically"
if ! pc "$GW" apply "$policy" 2>&1 | sed 's/^/   | /'; then lab_die "apply failed"; fi
gw_nft list table inet portcullis >/dev/null 2>&1 || lab_die "no table inet portcullis after apply"
line "the gateway now holds table inet portcullis ($(gw_nft list table inet portcullis | wc -l) lines)"

say "A real strongSwan IKEv2 client connects from the internet to 203.0.113.1"
sw_setup server server
SW_REMOTE=$LAB_WAN_GW sw_setup client client
sw_start server "$LAB_NS_LAN" || lab_die "strongSwan server did not start"
sw_start client "$LAB_NS_WAN" || lab_die "strongSwan client did not start"
sw_initiate client
if sw_wait_established client 20; then
  sas=$(sw_ctl client --list-sas 2>/dev/null)
  if grep -q 'remote host is behind NAT' "$(sw_log client)" && grep -qE '@ 203\.0\.113\.1\[4500\]' <<<"$sas"; then
    line "IKE_SA established through the gateway after NAT detection moved IKE from UDP 500 to UDP 4500"
  else
    line "IKE_SA established through the gateway (NAT detection / UDP 4500 not seen - unexpected)"
  fi
  grep -q 'TUNNEL-in-UDP' <<<"$sas" && line "CHILD_SA installed: ESP travels inside UDP 4500 through the gateway's DNAT"
  if ns_exec "$LAB_NS_WAN" ping -c 3 -i 0.2 -W 2 -q "$LAB_LAN_INNER" >/dev/null 2>&1; then
    line "a ping through the tunnel reached the VPN server's inner address $LAB_LAN_INNER"
  else
    line "the ping through the tunnel did not come back"
  fi
  ct=$(ns_exec "$GW" conntrack -L -p udp 2>/dev/null | grep -c 'dport=4500 src=192.0.2.10' || true)
  line "gateway conntrack: $ct UDP 4500 flow(s) DNATed to the VPN server 192.0.2.10"
else
  line "the IKE_SA did NOT establish within 20 s; the client log says:"
  tail -n 8 "$(sw_log client)" | sed 's/^/   | /'
fi

say "nmap scans the gateway from both internet clients"
ports_tcp=1-10000
ports_udp=1-1024,1194,1701,4500,51820
for who in wan wan2; do
  if [ $who = wan ]; then ns=$LAB_NS_WAN target=$LAB_WAN_GW label="203.0.113.10 (admin)"; else ns=$LAB_NS_WAN2 target=$LAB_WAN2_GW label="198.51.100.20 (stranger)"; fi
  nmap_scan "$who-tcp" "$ns" -sS -T4 --min-rate 3000 -p "$ports_tcp" "$target"
  nmap_scan "$who-udp" "$ns" -sU -T4 --min-rate 1000 -p "$ports_udp" "$target"
  open=$({ nmap_ports "$who-tcp" open; nmap_ports "$who-udp" open; } | joined)
  line "from $label: nmap found only: ${open:-nothing open}"
  line "   every other TCP port 1-10000: $(nmap_ignored "$who-tcp" || echo none); other UDP ports: $(nmap_ignored "$who-udp" || echo none)"
done
if grep -qx udp/500 <(nmap_ports wan2-udp open); then
  line "udp/500 is IKE: forwarded to the strongSwan server, which answered nmap's IKE probe."
fi
if grep -qx tcp/22 <(nmap_ports wan-tcp open) && ! grep -qx tcp/22 <(nmap_ports wan2-tcp open); then
  line "tcp/22 (SSH) answers the admin only, as the management block says."
fi
closed=$({ nmap_ports wan-tcp closed; nmap_ports wan2-tcp closed; nmap_ports wan-udp closed; nmap_ports wan2-udp closed; } | joined)
if [ -z "$closed" ] && ! tcp_probe "$LAB_NS_WAN" "$LAB_WAN_GW" 8080 1; then
  line "The admin UI on 8080 and every other port stayed invisible: dropped silently, never refused."
else
  line "Unexpected: reachable or refused ports besides the forwarded ones: ${closed:-8080}"
fi

say "Counters on the gateway (what the policy did)"
gw_nft list counters table inet portcullis 2>/dev/null \
  | awk '/^[[:space:]]*counter /{ name = $2 } /packets/{ if ($2 > 0) printf "   %-28s %8d packets\n", name, $2 }'
# Unguarded services count in the elements of shared sets; each element's comment names the
# service counter it belongs to. Sum them per name.
gw_nft list table inet portcullis 2>/dev/null \
  | grep -o 'counter packets [0-9]* bytes [0-9]* comment "[^"]*"' \
  | awk '{ gsub(/"/, "", $7); sum[$7] += $3 } END { for (n in sum) if (sum[n] > 0) printf "   %-28s %8d packets\n", n, sum[n] }' \
  | sort

say "Tearing the lab down"
exit 0
