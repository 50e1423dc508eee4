#!/usr/bin/env bash
# Issue 3 benchmarks (root; private network namespaces pc-dmn-bench*, removed on exit).
#   bash bench/daemon_bench.sh BUILD_DIR     (BUILD_DIR from `make bench`, e.g. build/bench)
# Prints one line per measurement; docs/benchmarks.md ("issue 3") records a run.
# Env: ONLY_SETS=1 (set updates only), ONLY_IDLE=1 (idle/1M part only), SKIP_DAEMON_START=1 (1M
# part without starting `portcullis run`, whose apply path lists the table), LIST_1M=1,
# LIBNFT_COUNT, CLI_COUNT, IDLE_BANS, LIST_HASH_MAX (largest host hash set listed, default 1M).
# ONLY_LIST=1: only the `bans list` part (issue 3, paging): the kernel dump's growth for the hash
# and the interval set (LIST_SIZES_HASH, LIST_SIZES_INTERVAL), then `bans list` through the daemon
# with LIST_BANS (default 1M) host bans: the full listing's time, `status` latency while it runs,
# RSS. OLD_PC=path/to/older/portcullis measures the same with that binary first (the baseline).
set -u
BUILD=${1:-build/bench}
BENCH=$BUILD/bench_daemon
PC=$BUILD/portcullis
NS=pc-dmn-bench
WORK=$(mktemp -d /tmp/pc-dmn-bench.XXXXXX)
cleanup() {
  [ -n "${DAEMON_PID:-}" ] && kill -TERM "$DAEMON_PID" 2>/dev/null
  sleep 0.5
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BENCH" ] && [ -x "$PC" ] || { echo "build first: make bench (missing $BENCH or $PC)"; exit 1; }

# The compiled ban layout (compile.hpp): hosts in hash sets banh4/banh6, prefixes in the interval
# sets ban4/ban6 (which also keep hosts an older version put there).
fresh_ns() {
  ip netns del "$NS" 2>/dev/null
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  ip netns exec "$NS" nft -f - <<'NFT'
table inet portcullis {
  set ban4 { type ipv4_addr; flags interval,timeout; timeout 1h; }
  set ban6 { type ipv6_addr; flags interval,timeout; timeout 1h; }
  set banh4 { type ipv4_addr; flags timeout; timeout 1h; }
  set banh6 { type ipv6_addr; flags timeout; timeout 1h; }
}
NFT
}
fresh_ns_split() { fresh_ns; }
# The kernel's own ceiling: the same 100k elements (10.0.0.0 + i, timeout 1h) in one `nft -f` file.
nft_file_bulk() {  # SET
  python3 - "$1" >"$WORK/bulk-$1.nft" <<'PY2'
import sys
print(f"add element inet portcullis {sys.argv[1]} {{")
print(",\n".join(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} timeout 1h" for i in range(100000)))
print("}")
PY2
  local start end
  start=$(date +%s.%N)
  ip netns exec "$NS" nft -f "$WORK/bulk-$1.nft" || echo "nft -f failed"
  end=$(date +%s.%N)
  python3 -c "print(f'nft-f-bulk set=$1 elements=100000 seconds={$end - $start:.3f} rate={100000 / ($end - $start):.0f}/s')"
}
# Another program's blocklist: 5,000 ranges in an interval set of another table (this is what makes
# every libnftables call slow — it lists all interval sets of the ruleset).
big_blocklist() {
  python3 - >"$WORK/blocklist.nft" <<'PY'
print("table inet other { set blocklist { type ipv4_addr; flags interval; elements = {")
print(",\n".join(f"172.{16 + i // 250}.{i % 250}.0-172.{16 + i // 250}.{i % 250}.127" for i in range(5000)))
print("}\n}\n}")
PY
  ip netns exec "$NS" nft -f "$WORK/blocklist.nft"
}
nft_cli_per_element() {  # COUNT SET — the fail2ban way: one `nft add element` process per ban
  local count=$1 set=$2 start end i
  start=$(date +%s.%N)
  for i in $(seq 1 "$count"); do
    ip netns exec "$NS" nft add element inet portcullis "$set" "{ 11.0.$((i / 250)).$((i % 250 + 1)) timeout 1h }"
  done
  end=$(date +%s.%N)
  python3 -c "print(f'nft-cli-per-element set=$set elements=$count seconds={$end - $start:.3f} rate={$count / ($end - $start):.1f}/s')"
}

# The host policy the daemon runs in the listing and idle parts: one web service, management SSH.
cat >"$WORK/policy-host.toml" <<'TOML'
[firewall]
mode = "host"
wan = ["lo"]
default = "drop"

[management]
sources = ["192.0.2.10"]
ports = ["tcp/22"]

[[service]]
name = "web"
ports = ["tcp/8000"]
allow_from = ["any"]
TOML
if [ -n "${ONLY_LIST:-}" ]; then
uptime | sed 's/^/load /'
echo "== the kernel dump of one ban set: hash (host bans) and interval (prefixes)"
# Elements go in with the batcher; then one dump (bench_daemon list). Quadratic growth shows as
# t(2n) ~ 4 t(n); the fit t = a n + c n^2 over two sizes gives the quadratic share.
for n in ${LIST_SIZES_HASH:-125000 250000 500000 1000000}; do
  fresh_ns
  ip netns exec "$NS" "$BENCH" sets-netlink portcullis banh4 "$n" host >/dev/null
  ip netns exec "$NS" "$BENCH" list portcullis banh4 host
done
for n in ${LIST_SIZES_INTERVAL:-50000 100000 200000}; do
  fresh_ns
  ip netns exec "$NS" "$BENCH" sets-netlink portcullis ban4 "$n" >/dev/null
  ip netns exec "$NS" "$BENCH" list portcullis ban4
done
uptime | sed 's/^/load /'
# status every 50 ms over one connection until told to stop; each round trip's latency, and the
# daemon's VmRSS, are recorded (bounded: at most 20,000 samples).
cat >"$WORK/poll.py" <<'PY'
import json, os, socket, sys, time
path, pid, stop, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(path)
f = s.makefile("rwb", buffering=0)
lat, rss = [], 0
for _ in range(20000):
    if os.path.exists(stop): break
    t = time.monotonic(); f.write(b'{"cmd":"status"}\n'); f.readline(); lat.append(time.monotonic() - t)
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"): rss = max(rss, int(line.split()[1]))
    time.sleep(0.05)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
json.dump({"samples": len(lat), "median_ms": q(0.5), "p99_ms": q(0.99), "max_ms": lat[-1] * 1000, "rss_max_kb": rss}, open(out, "w"))
PY
list_through_daemon() {  # LABEL PORTCULLIS
  local label=$1 pc=$2 sock=$WORK/cl-$1.sock
  rm -f "$WORK/stop-$label" "$WORK/s-$label.json"
  ip netns exec "$NS" "$pc" run "$WORK/policy-host.toml" --control "$sock" --state-file "$WORK/s-$label.json" \
    --metrics off >"$WORK/daemon-$label.log" 2>&1 &
  DAEMON_PID=$!
  for i in $(seq 1 600); do ip netns exec "$NS" "$pc" status --control "$sock" >/dev/null 2>&1 && break; sleep 0.2; done
  ip netns exec "$NS" python3 "$WORK/poll.py" "$sock" "$DAEMON_PID" "$WORK/stop-$label" "$WORK/idle-$label.json" &
  sleep 2; touch "$WORK/stop-$label"; wait $!; rm -f "$WORK/stop-$label"
  ip netns exec "$NS" python3 "$WORK/poll.py" "$sock" "$DAEMON_PID" "$WORK/stop-$label" "$WORK/during-$label.json" &
  local poller=$! start end rc
  start=$(date +%s.%N)
  ip netns exec "$NS" "$pc" bans list --json --control "$sock" >"$WORK/list-$label.json" 2>"$WORK/list-$label.err"
  rc=$?
  end=$(date +%s.%N)
  touch "$WORK/stop-$label"; wait "$poller"
  local hwm rss
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$DAEMON_PID/status")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$DAEMON_PID/status")
  python3 - "$label" "$rc" "$start" "$end" "$WORK/list-$label.json" "$WORK/list-$label.err" \
      "$WORK/idle-$label.json" "$WORK/during-$label.json" "$hwm" "$rss" <<'PY'
import json, sys
label, rc, start, end, listing, err, idle, during, hwm, rss = sys.argv[1:]
try:
    bans = json.load(open(listing))["bans"]; listed = len(bans); distinct = len({b["prefix"] for b in bans})
except Exception:
    listed = distinct = 0
idle, during = json.load(open(idle)), json.load(open(during))
print(f"bans-list {label}: exit={rc} listed={listed} distinct={distinct} seconds={float(end) - float(start):.2f} "
      f"error={open(err).read().strip()[:100]!r}")
print(f"status {label} idle: samples={idle['samples']} median_ms={idle['median_ms']:.2f} max_ms={idle['max_ms']:.2f}")
print(f"status {label} during the listing: samples={during['samples']} median_ms={during['median_ms']:.2f} "
      f"p99_ms={during['p99_ms']:.2f} max_ms={during['max_ms']:.2f}")
print(f"rss {label}: VmRSS_after={int(rss) / 1024:.1f}MB VmHWM={int(hwm) / 1024:.1f}MB max_sampled_during={during['rss_max_kb'] / 1024:.1f}MB")
PY
  kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
}
echo "== bans list through the daemon with ${LIST_BANS:=1000000} host bans in banh4 (no history: adopted)"
fresh_ns
ip netns exec "$NS" "$BENCH" sets-netlink portcullis banh4 "$LIST_BANS" host
uptime | sed 's/^/load /'
[ -n "${OLD_PC:-}" ] && list_through_daemon old "$OLD_PC"
list_through_daemon new "$PC"
[ -n "${OLD_PC:-}" ] && list_through_daemon old2 "$OLD_PC"
uptime | sed 's/^/load /'
exit 0
fi  # ONLY_LIST

if [ -z "${ONLY_IDLE:-}" ]; then
uptime | sed 's/^/load /'
for variant in plain with-5000-ranges; do
  echo "== set updates ($variant)"
  # Each method starts from empty ban sets (a full set would itself slow libnftables down).
  # Host bans go to banh4 (hash), prefixes to ban4 (interval): both are measured with host keys.
  fresh_ns; [ "$variant" = with-5000-ranges ] && big_blocklist
  ip netns exec "$NS" "$BENCH" sets-netlink portcullis banh4 100000 host
  ip netns exec "$NS" "$BENCH" sets-netlink portcullis ban4 100000
  fresh_ns; [ "$variant" = with-5000-ranges ] && big_blocklist
  BENCH_ORDER=shuffle ip netns exec "$NS" "$BENCH" sets-netlink portcullis banh4 100000 host | sed 's/^/shuffled /'
  BENCH_ORDER=shuffle ip netns exec "$NS" "$BENCH" sets-netlink portcullis ban4 100000 | sed 's/^/shuffled /'
  for set in banh4 ban4; do
    fresh_ns; [ "$variant" = with-5000-ranges ] && big_blocklist
    nft_file_bulk $set
  done
  for set in banh4 ban4; do
    fresh_ns; [ "$variant" = with-5000-ranges ] && big_blocklist
    ip netns exec "$NS" "$BENCH" sets-libnftables portcullis $set ${LIBNFT_COUNT:-200} | sed "s/^/set=$set /"
  done
  fresh_ns; [ "$variant" = with-5000-ranges ] && big_blocklist
  nft_cli_per_element ${CLI_COUNT:-100} banh4
done
uptime | sed 's/^/load /'

[ -n "${ONLY_SETS:-}" ] && exit 0
echo "== one netlink listing of an interval set (what \`bans list\` and libnftables' cache do)"
for n in 100000 200000; do
  fresh_ns
  ip netns exec "$NS" "$BENCH" sets-netlink portcullis ban4 "$n" >/dev/null
  ip netns exec "$NS" "$BENCH" list portcullis ban4
done
echo "== one netlink listing of the host hash set (what \`bans list\` does with host bans)"
for n in 100000 200000 ${LIST_HASH_MAX:-1000000}; do
  fresh_ns
  ip netns exec "$NS" "$BENCH" sets-netlink portcullis banh4 "$n" host >/dev/null
  ip netns exec "$NS" "$BENCH" list portcullis banh4 host
done

echo "== restore 100k bans from the state file into empty sets"
fresh_ns
ip netns exec "$NS" "$BENCH" restore "$WORK/state.json" 100000
fresh_ns_split
ip netns exec "$NS" "$BENCH" restore "$WORK/state.json" 100000 split

echo "== NFLOG decode (one core)"
"$BENCH" nflog-decode 3

echo "== NFLOG end to end: a 3 s hping3 SYN flood (dropped, logged to group 5), the daemon's reader counting"
fresh_ns
cat >"$WORK/policy.toml" <<'TOML'
[firewall]
mode = "host"
wan = ["lo"]
default = "drop"
log_drops = 5
log_rate = 100000

[management]
sources = ["192.0.2.10"]
ports = ["tcp/22"]

[[service]]
name = "web"
ports = ["tcp/8000"]
allow_from = ["any"]
TOML
ip netns exec "$NS" nft delete table inet portcullis
ip netns exec "$NS" "$PC" run "$WORK/policy.toml" --control "$WORK/c.sock" --state-file "$WORK/s.json" \
  --metrics off >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
for i in $(seq 1 50); do [ -S "$WORK/c.sock" ] && break; sleep 0.1; done
start=$(date +%s.%N)
ip netns exec "$NS" timeout 3 hping3 -q -S -p 9999 --flood 127.0.0.1 >/dev/null 2>&1
end=$(date +%s.%N)
sleep 0.5
ip netns exec "$NS" "$PC" status --json --control "$WORK/c.sock" >"$WORK/status.json"
python3 - "$WORK/status.json" "$start" "$end" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["nflog"]
secs = float(sys.argv[3]) - float(sys.argv[2])
print(f"nflog-live seconds={secs:.2f} decoded={s['packets']} rate={s['packets']/secs:.0f}/s overruns={s['overruns']} lost={s['lost']}")
PY
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=

fi  # ONLY_IDLE

echo "== idle cost with ${IDLE_BANS:=1000000} bans in the kernel (adopted by the daemon at start)"
fresh_ns
# Host bans, where the daemon puts them (the hash set banh4).
ip netns exec "$NS" "$BENCH" sets-netlink portcullis banh4 "$IDLE_BANS" host
# The daemon's own share of start-up (no apply): with no history, and with 100k of them in the file.
ip netns exec "$NS" "$BENCH" startup-own "$WORK/own.json" 0
ip netns exec "$NS" "$BENCH" startup-own "$WORK/own.json" 100000
# Why start-up no longer lists the ban sets: one netlink dump of the full set (LIST_1M=1 to run
# it; minutes), and of 100k and 200k elements to show the growth.
[ -n "${LIST_1M:-}" ] && ip netns exec "$NS" "$BENCH" list portcullis banh4 host
[ -n "${SKIP_DAEMON_START:-}" ] && exit 0
start=$(date +%s.%N)
ip netns exec "$NS" "$PC" run "$WORK/policy-host.toml" --control "$WORK/c2.sock" --state-file "$WORK/s2.json" \
  --metrics off >"$WORK/daemon2.log" 2>&1 &
DAEMON_PID=$!
for i in $(seq 1 1800); do [ -S "$WORK/c2.sock" ] && break; sleep 0.5; done
[ -S "$WORK/c2.sock" ] || { echo "daemon did not become ready in 900 s"; exit 1; }
ready=$(date +%s.%N)
python3 -c "print(f'start-with-$IDLE_BANS-bans seconds={$ready - $start:.2f} (apply + list 1M elements + state file write)')"
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$DAEMON_PID/stat"; }
t0=$(ticks)
sleep 30
t1=$(ticks)
hz=$(getconf CLK_TCK)
python3 -c "print(f'idle-cpu seconds=30 cpu_seconds={($t1 - $t0) / $hz:.3f} share={($t1 - $t0) / $hz / 30 * 100:.3f}%')"
grep -E 'VmRSS|VmHWM' "/proc/$DAEMON_PID/status" | tr -s ' \t' ' ' | sed "s/^/rss-with-$IDLE_BANS-bans /"
ls -l "$WORK/s2.json" | awk -v n="$IDLE_BANS" '{print "state-file-bytes-" n "-bans " $5}'
# `bans list` (paged; the dump runs on the daemon's listing thread): with the hosts in a hash set.
start=$(date +%s.%N)
ip netns exec "$NS" "$PC" bans list --json --control "$WORK/c2.sock" >"$WORK/bans.json"
end=$(date +%s.%N)
python3 -c "import json; n=len(json.load(open('$WORK/bans.json'))['bans']); print(f'bans-list-with-$IDLE_BANS-host-bans listed={n} seconds={$end - $start:.2f}')"
