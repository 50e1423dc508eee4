#!/usr/bin/env bash
# Issue 5: portcullis and psad side by side on the same nmap scans, in one run. One scanner
# namespace with two links: 203.0.113.10 -> 203.0.113.1 (portcullis daemon, host mode, [detect])
# and 198.51.100.10 -> 198.51.100.1 (iptables LOG + DROP, psad reading the kernel log). Each scan
# type is run against both targets at the same moment; reported per firewall: whether it detected
# the scanner, probes it had counted at detection, and seconds from the scan's start to detection.
#
# psad plumbing: iptables LOG in a namespace reaches the kernel log only with
# net.netfilter.nf_log_all_netns=1 (host-wide; restored on exit); `dmesg -w` lines carrying this
# run's log prefix are rewritten to syslog format into a private file psad reads
# (IPT_SYSLOG_FILE). psad runs inside the target namespace with a private config: CHECK_INTERVAL 1
# (its fastest), no email, no whois/DNS, no auto-blocking, private state directories.
#   bash bench/psad_compare.sh BUILD_DIR      (root; namespaces pc-psd<pid>-*, removed on exit)
set -u
BUILD=${1:-build/rel}
PC=$(cd "$BUILD" && pwd)/portcullis
for tool in psad iptables nmap dmesg python3; do command -v "$tool" >/dev/null || { echo "missing $tool"; exit 2; }; done
S=pc-psd$$-s P=pc-psd$$-p Q=pc-psd$$-q
W=$(mktemp -d /tmp/pc-psd.XXXXXX)
TAG="DROP pcpsd$$ "
old_all_netns=$(sysctl -n net.netfilter.nf_log_all_netns)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for ns in "$S" "$P" "$Q"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  sysctl -qw net.netfilter.nf_log_all_netns="$old_all_netns"
  [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT INT TERM

for ns in "$S" "$P" "$Q"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add p0 netns "$P" type veth peer name tp netns "$S"
ip link add q0 netns "$Q" type veth peer name tq netns "$S"
ip -n "$P" addr add 203.0.113.1/24 dev p0; ip -n "$S" addr add 203.0.113.10/24 dev tp
ip -n "$Q" addr add 198.51.100.1/24 dev q0; ip -n "$S" addr add 198.51.100.10/24 dev tq
for l in "$P p0" "$S tp" "$Q q0" "$S tq"; do set -- $l; ip -n "$1" link set "$2" up; done
sleep 1

# --- portcullis
cat >"$W/policy.toml" <<'TOML'
[firewall]
mode = "host"
wan = "p0"
default = "drop"
log_drops = 5
log_rate = 100

[[service]]
name = "web"
ports = ["tcp/8000"]
allow_from = ["any"]

[detect]
ban_base = "10m"
TOML
mkdir -p "$W/pcrun"
ip netns exec "$P" env PORTCULLIS_RUN_DIR="$W/pcrun" "$PC" run "$W/policy.toml" --control "$W/c.sock" \
  --state-file "$W/state.json" --events-file "$W/events.jsonl" --metrics off >"$W/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$W/c.sock" ] && break; sleep 0.2; done
[ -S "$W/c.sock" ] || { echo "portcullis did not start"; cat "$W/daemon.log"; exit 1; }

# --- iptables + psad
ip netns exec "$Q" iptables -A INPUT -i q0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ip netns exec "$Q" iptables -A INPUT -i q0 -j LOG --log-prefix "$TAG" --log-tcp-options
ip netns exec "$Q" iptables -A INPUT -i q0 -j DROP
sysctl -qw net.netfilter.nf_log_all_netns=1
mkdir -p "$W/psad/log" "$W/psad/run" "$W/psad/fifo"
: >"$W/messages"
sed -e "s|^IPT_SYSLOG_FILE .*|IPT_SYSLOG_FILE $W/messages;|" \
    -e "s|^PSAD_DIR .*|PSAD_DIR $W/psad/log;|" -e "s|^PSAD_RUN_DIR .*|PSAD_RUN_DIR $W/psad/run;|" \
    -e "s|^PSAD_FIFO_DIR .*|PSAD_FIFO_DIR $W/psad/fifo;|" \
    -e "s|^CHECK_INTERVAL .*|CHECK_INTERVAL 1;|" -e "s|^ALERTING_METHODS .*|ALERTING_METHODS noemail;|" \
    -e "s|^ENABLE_FW_LOGGING_CHECK .*|ENABLE_FW_LOGGING_CHECK N;|" -e "s|^IPTABLES_BLOCK_METHOD .*|IPTABLES_BLOCK_METHOD N;|" \
    -e "s|^ENABLE_AUTO_IDS .*|ENABLE_AUTO_IDS N;|" -e "s|^ENABLE_WHOIS_LOOKUPS .*|ENABLE_WHOIS_LOOKUPS N;|" \
    -e "s|^ENABLE_RDNS_LOOKUPS .*|ENABLE_RDNS_LOOKUPS N;|" -e "s|^FW_MSG_SEARCH .*|FW_MSG_SEARCH pcpsd$$;|" \
    -e "s|^EMAIL_ADDRESSES .*|EMAIL_ADDRESSES root@localhost;|" -e "s|^ENABLE_SYSLOG_FILE .*|ENABLE_SYSLOG_FILE Y;|" \
    /etc/psad/psad.conf >"$W/psad.conf"
# Kernel log -> syslog-format file (only this run's prefix).
# Read /dev/kmsg directly (from its end), so stopping this one process stops the reader.
python3 -u -c '
import os, sys, time
tag, out = sys.argv[1], open(sys.argv[2], "a", buffering=1)
fd = os.open("/dev/kmsg", os.O_RDONLY)
os.lseek(fd, 0, os.SEEK_END)
while True:
    try:
        record = os.read(fd, 8192).decode(errors="replace")
    except BrokenPipeError:  # overwritten records: skip ahead
        continue
    message = record.split(";", 1)[-1].split("\n", 1)[0]
    if tag in message:
        out.write(time.strftime("%b %e %H:%M:%S") + " pcpsad kernel: " + message + "\n")
' "pcpsd$$" "$W/messages" </dev/null >/dev/null 2>&1 &
pids+=($!)
ip netns exec "$Q" psad -c "$W/psad.conf" --no-daemon --no-rdns >"$W/psad.out" 2>&1 &
pids+=($!)
sleep 3

now() { date +%s.%N; }
# Each scan comes from a fresh source address on both sides (.21, .22, ...), so neither detector
# starts from state left by the previous scan.
# psad writes <source>/danger_level when it assigns the source a danger level (a scan detected);
# <source>/<target>_packet_ctr lines read "INPUT_q0_tcp:  400 [1-200]".
psad_detected() { [ -s "$W/psad/log/$1/danger_level" ]; }
psad_packets() { cat "$W/psad/log/$1/"*_packet_ctr 2>/dev/null | awk '{ s += $2 } END { print s + 0 }'; }
host=20

printf '%-10s | %-44s | %-44s\n' scan "portcullis: detected, probes, seconds" "psad: detected, packets seen, seconds"
run_scan() {  # name nmap-args...
  local name=$1; shift
  host=$((host + 1))
  local pc_src=203.0.113.$host psad_src=198.51.100.$host
  ip -n "$S" addr add "$pc_src/24" dev tp; ip -n "$S" addr add "$psad_src/24" dev tq
  local events_before start
  events_before=$(wc -l <"$W/events.jsonl")
  start=$(now)
  ip netns exec "$S" timeout 120 nmap -n -Pn --max-retries 1 -e tp -S "$pc_src" "$@" 203.0.113.1 >/dev/null 2>&1 &
  local a=$!
  ip netns exec "$S" timeout 120 nmap -n -Pn --max-retries 1 -e tq -S "$psad_src" "$@" 198.51.100.1 >/dev/null 2>&1 &
  local b=$!
  local psad_at= psad_seen=
  for _ in $(seq 1 300); do  # poll psad's state directory every 0.1 s for up to 30 s
    if psad_detected "$psad_src"; then psad_at=$(now); psad_seen=$(psad_packets "$psad_src"); break; fi
    sleep 0.1
  done
  wait "$a" "$b"
  python3 - "$W/events.jsonl" "$events_before" "$start" "$name" "${psad_at:-}" "${psad_seen:-}" "$pc_src" <<'PY'
import datetime, json, sys
path, skip, start, name, psad_at, psad_seen, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
pc = "no detection"
for i, line in enumerate(open(path)):
    if i < skip:
        continue
    e = json.loads(line)
    if e.get("type") == "scan_detected" and e.get("source") == src:
        ts = datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        pc = f"yes, {e['probes']} probes ({e['scan_type']}), {ts - start:.2f} s"
        break
ps = f"yes, {psad_seen} packets, {float(psad_at) - start:.2f} s" if psad_at else "no detection within 30 s"
print(f"{name:<10} | {pc:<44} | {ps:<44}")
PY
}
run_scan tcp-syn -sS -p 1-200
run_scan tcp-fin -sF -p 1-200
run_scan tcp-xmas -sX -p 1-200
run_scan udp -sU -p 1-100
echo "(load $(cut -d' ' -f1-3 /proc/loadavg); psad $(dpkg-query -W -f '${Version}' psad); psad CHECK_INTERVAL 1 s, DANGER_LEVEL1 $(awk '/^DANGER_LEVEL1/ { print $2 }' "$W/psad.conf"))"
