#!/usr/bin/env bash
# Forwarding-throughput benchmark (issue 2): iperf3 from the lab's wan client through the gw
# namespace to the LAN server, in the same run:
#   none   - no ruleset at all in gw: plain routing to 192.0.2.10 (no conntrack, no NAT)
#   small  - compiled policy with one forwarded service (iperf3's TCP 5201 DNATed from 203.0.113.1)
#   large  - the same plus 10,000 more services, each with its own allow CIDR
# Modes are interleaved ROUNDS times (none, small, large, none, ...) so background load hits all of
# them alike; medians and ratios are printed.
#
#   sudo bench/forward_bench.sh [PORTCULLIS_BINARY] [ROUNDS] [SECONDS_PER_RUN]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PORTCULLIS=${1:-${PORTCULLIS:-$HERE/../build/release/portcullis}}
ROUNDS=${2:-5}
SECS=${3:-4}
SERVICES=${SERVICES:-10000}
[ -x "$PORTCULLIS" ] || { echo "forward_bench: no portcullis binary at $PORTCULLIS" >&2; exit 1; }
source "$HERE/../lab/lib.sh"
lab_require iperf3 python3
lab_init "fb$$"
lab_up

write_policy() {  # write_policy FILE EXTRA_SERVICES
  python3 - "$1" "$2" <<'EOF'
import ipaddress, sys
path, count = sys.argv[1], int(sys.argv[2])
base = int(ipaddress.IPv4Address("198.18.0.0"))
out = ['[firewall]', 'mode = "gateway"', 'wan = ["wan0", "wan1"]', 'lan = "lan0"', 'default = "drop"', '',
       '[management]', 'sources = ["203.0.113.10"]', 'ports = ["tcp/22"]', '',
       '[[service]]', 'name = "iperf"', 'ports = ["tcp/5201"]', 'forward_to = "192.0.2.10"',
       'allow_from = ["203.0.113.0/24"]', '']
for i in range(count):
    proto = "tcp" if i % 2 == 0 else "udp"
    cidr = f"{ipaddress.IPv4Address(base + i * 8)}/29"
    out += ['[[service]]', f'name = "svc{i}"', f'ports = ["{proto}/{10000 + i}"]',
            'forward_to = "192.0.2.10"', f'allow_from = ["{cidr}"]', '']
open(path, "w").write("\n".join(out))
EOF
}
write_policy "$LAB_DIR/small.toml" 0
write_policy "$LAB_DIR/large.toml" "$SERVICES"

lab_bg iperf3-server "$LAB_NS_LAN" iperf3 -s -p 5201 >/dev/null
wait_listen "$LAB_NS_LAN" tcp 5201 || lab_die "iperf3 server did not start"

set_mode() {
  case $1 in
    none) ns_exec "$LAB_NS_GW" nft flush ruleset ;;
    small) pc "$LAB_NS_GW" apply "$LAB_DIR/small.toml" >/dev/null ;;
    large) pc "$LAB_NS_GW" apply "$LAB_DIR/large.toml" >/dev/null ;;
  esac
}
target_for() { [ "$1" = none ] && echo "$LAB_LAN_IP" || echo "$LAB_WAN_GW"; }

run_iperf() {  # prints Gbit/s received
  ns_exec "$LAB_NS_WAN" iperf3 -c "$1" -p 5201 -t "$SECS" -J 2>/dev/null \
    | python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

declare -A samples
for round in $(seq 1 "$ROUNDS"); do
  for mode in none small large; do
    set_mode "$mode" || lab_die "cannot set mode $mode"
    sleep 0.5
    gbps=$(run_iperf "$(target_for "$mode")")
    [ -n "$gbps" ] || lab_die "iperf3 failed in mode $mode"
    samples[$mode]+="$gbps "
    echo "round $round $mode: $gbps Gbit/s"
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m_none=$(median <<<"${samples[none]}")
m_small=$(median <<<"${samples[small]}")
m_large=$(median <<<"${samples[large]}")
echo "iperf3 TCP, 1 stream, ${SECS}s per run, $ROUNDS rounds interleaved, kernel $(uname -r), $(nproc) CPUs"
printf 'none  (no ruleset, routed):            median %s Gbit/s   runs: %s\n' "$m_none" "${samples[none]}"
printf 'small (compiled policy, 1 service):    median %s Gbit/s   runs: %s\n' "$m_small" "${samples[small]}"
printf 'large (compiled policy, %d services): median %s Gbit/s   runs: %s\n' "$((SERVICES + 1))" "$m_large" "${samples[large]}"
awk -v n="$m_none" -v s="$m_small" -v l="$m_large" 'BEGIN {
  printf "ratio small/none:  %.3f\n", s / n
  printf "ratio large/none:  %.3f\n", l / n
  printf "ratio large/small: %.3f\n", l / s
}'
