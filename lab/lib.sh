# shellcheck shell=bash
# portcullis namespace lab: four network namespaces joined by veth, real peers inside them.
#
#   pc-<tag>-wan   eth0 203.0.113.10/24  2001:db8:1::10/64  ─┐  (also the management source)
#   pc-<tag>-wan2  eth0 198.51.100.20/24 2001:db8:2::20/64  ─┤
#                                                            │ wan0 203.0.113.1   2001:db8:1::1
#   pc-<tag>-gw    routes, forwards; the firewall under test │ wan1 198.51.100.1  2001:db8:2::1
#                                                            │ lan0 192.0.2.1     2001:db8:3::1
#   pc-<tag>-lan   eth0 192.0.2.10/24    2001:db8:3::10/64  ─┘  (the VPN server)
#
# Every client routes via the gateway and the LAN server's default route points at the gateway,
# so the gateway never needs to masquerade: DNATed flows return through it and are un-NATed there.
# The veth pairs are created directly inside the namespaces, so no name ever appears in the host
# namespace and labs with different tags never collide.
#
# Usage (from a test):  source lab/lib.sh; lab_init mytag; lab_up; ...   (teardown runs on EXIT)

LAB_WAN_IP=203.0.113.10 LAB_WAN_GW=203.0.113.1
LAB_WAN2_IP=198.51.100.20 LAB_WAN2_GW=198.51.100.1
LAB_LAN_IP=192.0.2.10 LAB_LAN_GW=192.0.2.1
LAB_WAN_IP6=2001:db8:1::10 LAB_WAN_GW6=2001:db8:1::1
LAB_WAN2_IP6=2001:db8:2::20 LAB_WAN2_GW6=2001:db8:2::1
LAB_LAN_IP6=2001:db8:3::10 LAB_LAN_GW6=2001:db8:3::1
# The VPN server's address inside its tunnel (on lo, inside the server's local_ts) and the pool.
LAB_LAN_INNER=192.0.2.225 LAB_TUNNEL_NET=192.0.2.224/28 LAB_POOL=192.0.2.240/28
# Interface names inside the gateway namespace (the policies under tests/lab/policies use them).
LAB_GW_WAN_IF=wan0 LAB_GW_WAN2_IF=wan1 LAB_GW_LAN_IF=lan0

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_FAILS=0
LAB_PASSES=0

lab_log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
lab_die() { printf 'FAIL: %s\n' "$*"; LAB_FAILS=$((LAB_FAILS + 1)); exit 1; }

# Records a check result; the test keeps going so one run reports every scenario.
pass() { printf 'PASS: %s\n' "$*"; LAB_PASSES=$((LAB_PASSES + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; LAB_FAILS=$((LAB_FAILS + 1)); }
check() {  # check "description" command...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# not cmd... : succeeds when cmd fails (for check "..." not tcp_probe ...).
not() { ! "$@"; }
# Prints the summary and returns the test's exit status.
lab_finish() {
  printf 'SUMMARY: %d passed, %d failed\n' "$LAB_PASSES" "$LAB_FAILS"
  [ "$LAB_FAILS" -eq 0 ]
}

lab_require_root() {
  [ "$(id -u)" -eq 0 ] || { echo "FAIL: lab tests need root"; exit 1; }
}

lab_require() {  # lab_require prog... : fail early, naming what is missing
  local p missing=()
  for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] || { echo "FAIL: missing programs: ${missing[*]} (run scripts/install-deps.sh)"; exit 1; }
}

# lab_init TAG: names the namespaces, makes the work dir and installs the EXIT trap.
lab_init() {
  # PC_LAB_TAG_SUFFIX lets two checkouts run the same lab test at once without sharing namespaces.
  local tag=$1${PC_LAB_TAG_SUFFIX:-}
  [[ $tag =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || { echo "lab_init: bad tag '$tag'" >&2; exit 2; }
  lab_require_root
  LAB_TAG=$tag
  LAB_NS_WAN=pc-$tag-wan LAB_NS_WAN2=pc-$tag-wan2 LAB_NS_GW=pc-$tag-gw LAB_NS_LAN=pc-$tag-lan
  LAB_ALL_NS=("$LAB_NS_WAN" "$LAB_NS_WAN2" "$LAB_NS_GW" "$LAB_NS_LAN")
  LAB_DIR=$(mktemp -d "/tmp/pc-lab-$tag.XXXXXX")
  : >"$LAB_DIR/pids"
  trap 'lab_teardown' EXIT
  trap 'exit 130' INT TERM
}

lab_teardown() {
  local rc=$? ns pid
  trap - EXIT
  [ -n "${LAB_DIR:-}" ] || return "$rc"
  lab_log "tearing down lab ${LAB_TAG} (exit status $rc)"
  # Processes we started (their whole process groups), then anything else still in the namespaces.
  if [ -s "$LAB_DIR/pids" ]; then
    while read -r pid; do kill -TERM -- "-$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done <"$LAB_DIR/pids"
    sleep 0.3
    while read -r pid; do kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done <"$LAB_DIR/pids"
  fi
  for ns in "${LAB_ALL_NS[@]}"; do
    ip netns list 2>/dev/null | grep -qw -- "$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ "$rc" -ne 0 ] && [ -n "${LAB_SHOW_LOGS_ON_FAIL:-1}" ]; then
    local f
    for f in "$LAB_DIR"/*.log; do
      [ -s "$f" ] || continue
      echo "---- last lines of $(basename "$f") ----"
      tail -n 25 "$f"
    done
  fi
  if [ -n "${LAB_KEEP:-}" ]; then echo "lab: kept $LAB_DIR"; else rm -rf "$LAB_DIR"; fi
  return "$rc"
}

# ns_exec NS cmd... : run a command inside a lab namespace.
ns_exec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# lab_bg NAME NS cmd... : start a background process in NS (own process group), logging to
# $LAB_DIR/NAME.log; remembers its pid for teardown and prints it.
lab_bg() {
  local name=$1 ns=$2; shift 2
  setsid ip netns exec "$ns" "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >>"$LAB_DIR/pids"
  echo "$pid" >"$LAB_DIR/$name.pid"
  echo "$pid"
}

# lab_stop NAME: stop a background process started by lab_bg.
lab_stop() {
  local f=$LAB_DIR/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null
  rm -f "$f"
  return 0
}

# wait_until TIMEOUT_SECONDS cmd... : poll cmd every 0.2 s until it succeeds or time runs out.
wait_until() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout))
  while :; do
    "$@" && return 0
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

_lab_link() {  # _lab_link NS_A IF_A NS_B IF_B
  ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

_lab_addr() {  # _lab_addr NS IF V4/PFX V6/PFX
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$1" -6 addr add "$4" dev "$2" nodad
}

# lab_up: build the topology described at the top of this file.
lab_up() {
  local ns
  for ns in "${LAB_ALL_NS[@]}"; do
    if ip netns list | grep -qw -- "$ns"; then
      lab_log "removing stale namespace $ns"
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
      ip netns del "$ns"
    fi
    ip netns add "$ns" || lab_die "cannot create namespace $ns"
    ip -n "$ns" link set lo up
  done
  _lab_link "$LAB_NS_GW" $LAB_GW_WAN_IF "$LAB_NS_WAN" eth0
  _lab_link "$LAB_NS_GW" $LAB_GW_WAN2_IF "$LAB_NS_WAN2" eth0
  _lab_link "$LAB_NS_GW" $LAB_GW_LAN_IF "$LAB_NS_LAN" eth0

  _lab_addr "$LAB_NS_GW" $LAB_GW_WAN_IF $LAB_WAN_GW/24 $LAB_WAN_GW6/64
  _lab_addr "$LAB_NS_GW" $LAB_GW_WAN2_IF $LAB_WAN2_GW/24 $LAB_WAN2_GW6/64
  _lab_addr "$LAB_NS_GW" $LAB_GW_LAN_IF $LAB_LAN_GW/24 $LAB_LAN_GW6/64
  _lab_addr "$LAB_NS_WAN" eth0 $LAB_WAN_IP/24 $LAB_WAN_IP6/64
  _lab_addr "$LAB_NS_WAN2" eth0 $LAB_WAN2_IP/24 $LAB_WAN2_IP6/64
  _lab_addr "$LAB_NS_LAN" eth0 $LAB_LAN_IP/24 $LAB_LAN_IP6/64

  ip -n "$LAB_NS_WAN" route add default via $LAB_WAN_GW
  ip -n "$LAB_NS_WAN" -6 route add default via $LAB_WAN_GW6
  ip -n "$LAB_NS_WAN2" route add default via $LAB_WAN2_GW
  ip -n "$LAB_NS_WAN2" -6 route add default via $LAB_WAN2_GW6
  ip -n "$LAB_NS_LAN" route add default via $LAB_LAN_GW
  ip -n "$LAB_NS_LAN" addr add $LAB_LAN_INNER/32 dev lo
  ip -n "$LAB_NS_LAN" -6 route add default via $LAB_LAN_GW6

  ns_exec "$LAB_NS_GW" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # Conntrack must see loose TCP pick-up off so a scan's stray ACKs count as invalid, as on a real box.
  ns_exec "$LAB_NS_GW" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 2>/dev/null || true

  wait_until 10 ns_exec "$LAB_NS_WAN" ping -c1 -W1 -q $LAB_WAN_GW >/dev/null \
    || lab_die "lab: wan cannot ping the gateway"
  lab_log "lab $LAB_TAG up (work dir $LAB_DIR)"
}

# ---------------------------------------------------------------- nftables in the gateway

# gw_nft ARGS... : nft inside the gateway namespace.
gw_nft() { ns_exec "$LAB_NS_GW" nft "$@"; }

# gw_ruleset: the full ruleset listing of the gateway (for before/after comparisons).
gw_ruleset() { ns_exec "$LAB_NS_GW" nft list ruleset; }

# pc NS ARGS... : run the portcullis binary ($PORTCULLIS) inside a namespace. Its commit-confirm
# state goes to a directory private to this lab and namespace, never the host's /run/portcullis.
pc() {
  local ns=$1; shift
  mkdir -p "$LAB_DIR/pc-run-$ns"
  ns_exec "$ns" env PORTCULLIS_RUN_DIR="$LAB_DIR/pc-run-$ns" "$PORTCULLIS" "$@"
}

# lab_require_portcullis: $PORTCULLIS must name an executable.
lab_require_portcullis() {
  [ -n "${PORTCULLIS:-}" ] && [ -x "$PORTCULLIS" ] || { echo "FAIL: set PORTCULLIS to the portcullis binary"; exit 1; }
}

# lab_policy NAME: path of a lab policy under tests/lab/policies (or lab/policies).
lab_policy() {
  local root=${PC_SOURCE_ROOT:-$(cd "$LAB_ROOT/.." && pwd)}
  if [ -f "$root/tests/lab/policies/$1" ]; then echo "$root/tests/lab/policies/$1"; else echo "$root/lab/policies/$1"; fi
}

# ---------------------------------------------------------------- nmap

# nmap_scan NAME NS ARGS... : run nmap in NS with grepable output saved as $LAB_DIR/nmap-NAME.gnmap.
nmap_scan() {
  local name=$1 ns=$2; shift 2
  ns_exec "$ns" timeout 300 nmap -n -Pn --max-retries 1 -oG "$LAB_DIR/nmap-$name.gnmap" "$@" >"$LAB_DIR/nmap-$name.log" 2>&1
}

# nmap_ports NAME STATE : the ports (as "proto/port", one per line, sorted) nmap reported in
# exactly STATE (open, closed, filtered, open|filtered, unfiltered).
nmap_ports() {
  local name=$1 state=$2
  grep -o 'Ports: .*' "$LAB_DIR/nmap-$name.gnmap" | sed 's/^Ports: //; s/\tIgnored State.*//' | tr ',' '\n' \
    | sed 's/^ *//' | awk -F/ -v s="$state" '$2 == s { print $3 "/" $1 }' | sort -t/ -k1,1 -k2,2n
}

# nmap_ignored NAME : the "Ignored State" summary (e.g. "filtered (9997)"), if any.
nmap_ignored() { grep -o 'Ignored State: [^	]*' "$LAB_DIR/nmap-$1.gnmap" | sed 's/Ignored State: //'; }

# joined : stdin's lines joined by single spaces (for comparing port lists).
joined() { paste -sd' ' -; }

# ---------------------------------------------------------------- probes

# tcp_probe NS ADDR PORT [TIMEOUT]: true when a TCP connection to ADDR:PORT completes.
tcp_probe() {
  local ns=$1 addr=$2 port=$3 t=${4:-2}
  ns_exec "$ns" timeout "$((t + 1))" socat -T"$t" /dev/null "TCP:$(_sock_addr "$addr"):$port,connect-timeout=$t" 2>/dev/null
}

# tcp_banner NS ADDR PORT: prints the first line the server sends (listeners started by
# listen_tcp answer with their name, so a test can tell which box answered).
tcp_banner() {
  local ns=$1 addr=$2 port=$3
  ns_exec "$ns" timeout 4 socat -T2 - "TCP:$(_sock_addr "$addr"):$port,connect-timeout=2" </dev/null 2>/dev/null | head -n1
}

# udp_banner NS ADDR PORT: sends a datagram (up to 3 tries, UDP being lossy), prints the reply of
# a listen_udp listener; prints nothing when no answer came.
udp_banner() {
  local ns=$1 addr=$2 port=$3 reply
  for _ in 1 2 3; do
    reply=$(echo probe | ns_exec "$ns" timeout 3 socat -T1.5 - "UDP:$(_sock_addr "$addr"):$port" 2>/dev/null | head -n1)
    [ -n "$reply" ] && { echo "$reply"; return 0; }
  done
  return 0
}

_sock_addr() { if [[ $1 == *:* ]]; then printf '[%s]' "$1"; else printf '%s' "$1"; fi; }

# listen_tcp NS PORT NAME: a TCP listener (v4+v6) that greets every client with NAME.
listen_tcp() {
  local ns=$1 port=$2 name=$3
  lab_bg "tcp-$name-$port" "$ns" socat "TCP6-LISTEN:$port,ipv6only=0,reuseaddr,fork" "SYSTEM:echo $name" >/dev/null
}

# listen_udp NS PORT NAME: a UDP listener (v4+v6) that answers every datagram with NAME.
listen_udp() {
  local ns=$1 port=$2 name=$3
  lab_bg "udp-$name-$port" "$ns" socat "UDP6-RECVFROM:$port,ipv6only=0,reuseaddr,fork" "SYSTEM:echo $name" >/dev/null
}

# wait_listen NS PROTO PORT: wait until something listens on PORT (proto tcp|udp) in NS.
wait_listen() {
  local ns=$1 proto=$2 port=$3 flag
  [ "$proto" = tcp ] && flag=-ltnH || flag=-lunH
  wait_until 10 _has_listener "$ns" "$flag" "$port"
}
_has_listener() { ns_exec "$1" ss "$2" "sport = :$3" | grep -q .; }

# ---------------------------------------------------------------- strongSwan (charon per namespace)

# sw_setup NAME ROLE : write configs for a charon instance under $LAB_DIR/sw-NAME.
#   ROLE server: IKEv2 PSK responder, pool 192.0.2.240/28, protects 192.0.2.224/28 (its inner address
#                192.0.2.225 lives on lo, inside local_ts, so IKE to its public address never enters
#                the tunnel).
#   ROLE client: initiator towards $SW_REMOTE (the gateway's WAN address), asks for a virtual IP.
# Retransmits are short so a blocked exchange fails within seconds.
sw_setup() {
  local name=$1 role=$2 dir=$LAB_DIR/sw-$1
  mkdir -p "$dir/run"
  cat >"$dir/strongswan.conf" <<EOF
charon {
  load = random nonce aes sha1 sha2 hmac gmp openssl pem pkcs1 x509 pubkey kdf kernel-libipsec kernel-netlink socket-default vici updown
  install_routes = yes
  retransmit_tries = 3
  retransmit_timeout = 1.0
  retransmit_base = 1.2
  plugins {
    vici {
      socket = unix://$dir/run/charon.vici
    }
  }
  filelog {
    lab {
      path = $dir/charon.log
      time_format = %H:%M:%S
      flush_line = yes
      default = 1
      ike = 2
      net = 2
      cfg = 1
    }
  }
}
EOF
  if [ "$role" = server ]; then
    cat >"$dir/swanctl.conf" <<EOF
connections {
  lab {
    version = 2
    local_addrs = %any
    pools = labpool
    local {
      auth = psk
      id = server.lab.example
    }
    remote {
      auth = psk
      id = client.lab.example
    }
    children {
      lab {
        local_ts = $LAB_TUNNEL_NET
        esp_proposals = aes128-sha256
      }
    }
    proposals = aes128-sha256-modp2048
  }
}
pools {
  labpool {
    addrs = $LAB_POOL
  }
}
secrets {
  ike-lab {
    id-1 = server.lab.example
    id-2 = client.lab.example
    secret = "portcullis-lab-psk"
  }
}
EOF
  else
    cat >"$dir/swanctl.conf" <<EOF
connections {
  lab {
    version = 2
    remote_addrs = ${SW_REMOTE:-$LAB_WAN_GW}
    vips = 0.0.0.0
    local {
      auth = psk
      id = client.lab.example
    }
    remote {
      auth = psk
      id = server.lab.example
    }
    children {
      lab {
        remote_ts = $LAB_TUNNEL_NET
        esp_proposals = aes128-sha256
      }
    }
    proposals = aes128-sha256-modp2048
  }
}
secrets {
  ike-lab {
    id-1 = server.lab.example
    id-2 = client.lab.example
    secret = "portcullis-lab-psk"
  }
}
EOF
  fi
}

# sw_start NAME NS : start charon for config NAME inside NS with a private /run, wait for vici,
# then load the connections and secrets.
sw_start() {
  local name=$1 ns=$2 dir=$LAB_DIR/sw-$1
  lab_bg "charon-$name" "$ns" env STRONGSWAN_CONF="$dir/strongswan.conf" \
    unshare -m sh -c "mount --bind '$dir/run' /run && exec /usr/lib/ipsec/charon" >/dev/null
  wait_until 15 test -S "$dir/run/charon.vici" || { lab_log "charon $name: no vici socket"; return 1; }
  wait_until 10 sw_ctl "$name" --stats >/dev/null 2>&1 || { lab_log "charon $name: vici not answering"; return 1; }
  sw_ctl "$name" --load-all --file "$dir/swanctl.conf" >"$LAB_DIR/swanctl-load-$name.log" 2>&1 \
    || { lab_log "charon $name: swanctl --load-all failed"; cat "$LAB_DIR/swanctl-load-$name.log" >&2; return 1; }
}

# sw_ctl NAME ARGS... : swanctl talking to instance NAME over its own vici socket.
sw_ctl() { local name=$1; shift; swanctl "$@" --uri "unix://$LAB_DIR/sw-$name/run/charon.vici"; }

# sw_initiate NAME : start the "lab" child (and with it the IKE_SA); returns swanctl's status.
sw_initiate() { sw_ctl "$1" --initiate --child lab --timeout 15 >"$LAB_DIR/swanctl-initiate-$1.log" 2>&1; }

# sw_log NAME : path of the charon log of instance NAME.
sw_log() { echo "$LAB_DIR/sw-$1/charon.log"; }

# sw_wait_established NAME TIMEOUT : wait until charon logs "IKE_SA ... established" and
# swanctl --list-sas shows it ESTABLISHED.
sw_wait_established() {
  wait_until "$2" _sw_established "$1"
}
_sw_established() {
  grep -qE 'IKE_SA .* established between' "$(sw_log "$1")" && sw_ctl "$1" --list-sas 2>/dev/null | grep -q ESTABLISHED
}

# ---------------------------------------------------------------- PPTP


# pptpd_start NS : run pptpd in the foreground inside NS (private /run). Instead of pppd it runs
# lab/pptp_peer.py, which answers every call with PPP LCP frames so the server sends GRE back
# (there is no kernel PPP here). What the peer receives is logged to $LAB_DIR/pptpd/run/pptp-peer.log.
pptpd_start() {
  local ns=$1 dir=$LAB_DIR/pptpd
  mkdir -p "$dir/run"
  cat >"$dir/pptpd.conf" <<EOF
ppp $LAB_ROOT/pptp_peer.py
option $dir/options
localip 192.0.2.100
remoteip 192.0.2.101-109
EOF
  : >"$dir/options"
  lab_bg pptpd "$ns" \
    unshare -m sh -c "mount --bind '$dir/run' /run && exec pptpd -f -c '$dir/pptpd.conf' -p /run/pptpd.pid" >/dev/null
  wait_listen "$ns" tcp 1723
}

# pptp_call NS SERVER SECONDS : a PPTP call from NS to SERVER with the pptp-linux client, sending
# LCP frames over GRE for SECONDS. Prints "frames_sent=N frames_received=M" (frames received are
# the server's GRE coming back). pptp runs in its own session with a private /run (its call
# manager socket lives there), so parallel labs and the calling shell are left alone.
# pptpd_frames_received : how many PPP frames the server-side peer got over GRE so far.
pptpd_frames_received() {
  local f=$LAB_DIR/pptpd/run/pptp-peer.log
  [ -f "$f" ] && tail -n1 "$f" | sed -n 's/.*frames_received=\([0-9]*\).*/\1/p' || echo 0
}

pptp_call() {
  local ns=$1 server=$2 secs=$3 dir=$LAB_DIR/pptp
  mkdir -p "$dir/run"
  timeout "$((${secs%.*} + 10))" setsid -w ip netns exec "$ns" unshare -m sh -c \
    "mount --bind '$dir/run' /run && exec python3 '$LAB_ROOT/pptp_peer.py' client '$server' '$secs'" \
    2>"$LAB_DIR/pptp-client.log" </dev/null
}
