#!/usr/bin/env bash
# Issue 4 benchmark: time from the trigger (the SPA packet; the last knock) to the first allowed
# SYN passing, side by side in one lab, for
#   portcullis SPA    `portcullis run` (NFLOG -> verifier -> netlink grant set element)
#   portcullis knock  the compiled in-kernel knock chain (no daemon at all)
#   fwknopd           Debian fwknop-server 2.6.10, UDP server mode, iptables backend
#   knockd            Debian knockd, command = iptables -A ... -j ACCEPT
# Server and client are two namespaces on a veth pair (192.0.2.1 / 192.0.2.2). The client-side
# probe (bench_spa_latency) sends the trigger, then starts a fresh connect() every 25 us (every
# 500 us after 5 ms) until one connects; the service is closed again between trials. All SPA
# packets (ours and fwknopd's) come from the same encoder, fwknop's format.
#
# Usage: bench/spa_latency.sh PORTCULLIS BENCH_SPA_LATENCY [TRIALS]   (root; prints a table)
set -u
PORTCULLIS=${1:?portcullis binary}
PROBE=${2:?bench_spa_latency binary}
TRIALS=${3:-1000}
# Idle time between trials: each server finishes what it does after opening (fwknopd and our
# daemon write their replay caches to disk) before the next trigger, as with a real user.
PAUSE_MS=${PAUSE_MS:-50}
# Optional prefix for every server under test (daemon, fwknopd, knockd), e.g. SERVER_WRAP="chrt -f 10"
# to see how much of the latency is the scheduler on a loaded box.
SERVER_WRAP=${SERVER_WRAP:-}
# The same for the probe (applied to every system alike), e.g. PROBE_WRAP="chrt -f 10": the probe can
# only send its next SYN when it gets a CPU, so on a box busy with other work its own scheduling
# delay adds to every system's latency (dominant for knock and SPA, noise for fwknopd and knockd).
PROBE_WRAP=${PROBE_WRAP:-}
# SYN spacing of the probe for the first 5 ms (microseconds) and which systems to run.
INTERVAL_US=${INTERVAL_US:-25}
ONLY=${ONLY:-portcullis-spa portcullis-knock fwknopd-iptables knockd-iptables}
wanted() { [[ " $ONLY " == *" $1 "* ]]; }
for tool in ip nft iptables fwknopd knockd python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
SRV=pc-spab-s$$ CLI=pc-spab-c$$
WORK=$(mktemp -d /tmp/pc-spab.XXXXXX)
cleanup() {
  for f in "$WORK"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  sleep 0.2
  ip netns del "$SRV" 2>/dev/null
  ip netns del "$CLI" 2>/dev/null
  [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
in_srv() { ip netns exec "$SRV" "$@"; }
in_cli() { ip netns exec "$CLI" "$@"; }
bg_srv() {  # bg_srv NAME cmd...
  local name=$1; shift
  setsid ip netns exec "$SRV" "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  echo $! >"$WORK/$name.pid"
}
stop() { [ -f "$WORK/$1.pid" ] && { kill -- "-$(cat "$WORK/$1.pid")" 2>/dev/null; kill "$(cat "$WORK/$1.pid")" 2>/dev/null; rm -f "$WORK/$1.pid"; sleep 0.5; }; }

ip netns add "$SRV" && ip netns add "$CLI" || exit 1
ip link add spabs$$ netns "$SRV" type veth peer name spabc$$ netns "$CLI"
in_srv ip link set lo up; in_cli ip link set lo up
in_srv ip addr add 192.0.2.1/24 dev spabs$$; in_cli ip addr add 192.0.2.2/24 dev spabc$$
in_srv ip link set spabs$$ up; in_cli ip link set spabc$$ up
sleep 1

# The SSH stand-in: accepts and closes.
bg_srv listener python3 -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()'

export HOME=$WORK/home
mkdir -p "$HOME"
fwknop --key-gen --no-rc-file >"$WORK/keys"
cp "$WORK/keys" "$WORK/client.key"; chmod 600 "$WORK/client.key"
KEY=$(sed -n 's/^KEY_BASE64: //p' "$WORK/keys")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$WORK/keys")

summary() { sort -n "$1" | awk -v name="$2" '$1 >= 0 { v[n++] = $1 } $1 < 0 { t++ }
  END { printf "%-18s trials %d  timeouts %d  p50 %9.1f us  p99 %9.1f us  max %9.1f us\n", name, n + t, t,
        v[int(n * 0.50)], v[int(n * 0.99)], v[n - 1] }'; }
run_probe() {  # run_probe NAME probe-args...
  local name=$1; shift
  wanted "$name" || return 0
  in_cli $PROBE_WRAP "$PROBE" --server 192.0.2.1 --port 22 --trials "$TRIALS" --pause-ms "$PAUSE_MS" --interval-us "$INTERVAL_US" "$@" >"$WORK/$name.txt" 2>"$WORK/$name.err"
  summary "$WORK/$name.txt" "$name" | tee -a "$WORK/summary"
}

# ---- portcullis SPA (daemon)
cat >"$WORK/spa.toml" <<TOML
[firewall]
mode = "host"
wan = "spabs$$"
[management]
sources = ["198.51.100.7"]
ports = ["tcp/2222"]
[[service]]
name = "ssh"
ports = ["tcp/22"]
allow_from = ["any"]
guard = "spa"
[spa]
rate_limit = "100000/s"
rate_burst = 100000
[[spa.key]]
name = "bench"
key_file = "$WORK/client.key"
services = ["ssh"]
max_open = "1h"
TOML
mkdir -p "$WORK/run"
bg_srv daemon $SERVER_WRAP env PORTCULLIS_SPA_TRACE="${SPA_TRACE:-0}" PORTCULLIS_RUN_DIR="$WORK/run" "$PORTCULLIS" run "$WORK/spa.toml" --control "$WORK/run/control.sock" \
  --state-file "${STATE_DIR:-$WORK}/state.json" --metrics off
for _ in $(seq 100); do [ -S "$WORK/run/control.sock" ] && break; sleep 0.1; done
run_probe "portcullis-spa" --spa "$WORK/client.key" \
  --reset "ip netns exec $SRV nft flush set inet portcullis grant4_ssh"
stop daemon
in_srv nft flush ruleset

# ---- portcullis knock (kernel only)
cat >"$WORK/knock.toml" <<TOML
[firewall]
mode = "host"
wan = "spabs$$"
[management]
sources = ["198.51.100.7"]
ports = ["tcp/2222"]
[[service]]
name = "ssh"
ports = ["tcp/22"]
allow_from = ["any"]
guard = "knock"
[service.knock]
sequence = ["udp/17301", "udp/28113", "udp/11923"]
open_for = "1h"
# 1,000 sequences back to back from one source: the per-source knock limit (issue 5) would drop
# them; this bench measures trigger-to-open latency, not flood control.
rate_limit = "off"
TOML
"$PORTCULLIS" compile "$WORK/knock.toml" >"$WORK/knock.nft" && in_srv nft -f "$WORK/knock.nft"
run_probe "portcullis-knock" --knock udp/17301,udp/28113,udp/11923 \
  --reset "ip netns exec $SRV nft flush set inet portcullis grant4_ssh"
in_srv nft flush ruleset

# ---- fwknopd, iptables backend
in_srv iptables -A INPUT -p tcp --dport 22 -j DROP
cat >"$WORK/fwknopd.conf" <<EOF
PCAP_INTF spabs$$;
ENABLE_UDP_SERVER Y;
UDPSERV_PORT 62201;
FWKNOP_RUN_DIR $WORK;
EOF
cat >"$WORK/access.conf" <<EOF
SOURCE ANY
OPEN_PORTS tcp/22
KEY_BASE64 $KEY
HMAC_KEY_BASE64 $HMAC
FW_ACCESS_TIMEOUT 3600
EOF
chmod 600 "$WORK/fwknopd.conf" "$WORK/access.conf"
bg_srv fwknopd $SERVER_WRAP fwknopd -f -c "$WORK/fwknopd.conf" -a "$WORK/access.conf" -p "$WORK/fwknopd.pidfile" \
  -d "$WORK/digest.cache" -r "$WORK"
for _ in $(seq 100); do grep -q 'Kicking off UDP server' "$WORK/fwknopd.log" && break; sleep 0.1; done
run_probe "fwknopd-iptables" --spa "$WORK/client.key" --reset "ip netns exec $SRV iptables -F FWKNOP_INPUT"
stop fwknopd
in_srv iptables -F; in_srv iptables -X 2>/dev/null; in_srv nft flush ruleset

# ---- knockd, iptables command
in_srv iptables -N KNOCKD
in_srv iptables -A INPUT -j KNOCKD
in_srv iptables -A INPUT -p tcp --dport 22 -j DROP
cat >"$WORK/knockd.conf" <<EOF
[options]
    Interface = spabs$$
[open]
    sequence    = 17301:udp,28113:udp,11923:udp
    seq_timeout = 5
    command     = /usr/sbin/iptables -A KNOCKD -s %IP% -p tcp --dport 22 -j ACCEPT
EOF
bg_srv knockd $SERVER_WRAP knockd -c "$WORK/knockd.conf" -i spabs$$
sleep 1
run_probe "knockd-iptables" --knock udp/17301,udp/28113,udp/11923 --reset "ip netns exec $SRV iptables -F KNOCKD"
stop knockd

echo "--- $(date -u +%FT%TZ), $TRIALS trials each, $(nproc) cores"
cat "$WORK/summary"
