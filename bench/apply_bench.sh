#!/usr/bin/env bash
# Apply-time benchmark (issue 2): a gateway policy with 10,000 services and 10,000 allow CIDRs,
# applied with `portcullis apply` inside a scratch network namespace, several runs, median; the
# baseline in the same run is `nft -f` of the very text `portcullis compile` prints for it.
#
#   sudo bench/apply_bench.sh [PORTCULLIS_BINARY] [RUNS]
#
# Shapes measured (each RUNS times, interleaved):
#   create   - no table yet (portcullis flush / nft delete table before each run)
#   replace  - the table exists (re-apply of the same policy; portcullis keeps the runtime sets)
# plus, for a breakdown: apply --dry-run (kernel check of the transaction, no commit), compile
# (parse + validate + compile to text) and check (parse + validate + exposure report).
# Then (BANS=200000 by default, BANS=0 skips): change2 - apply a policy where 2 of the services
# changed (svc0's allow CIDR widened, svc1's port moved) and back, alternating; and the same
# re-apply and change2 while ban4 holds BANS /32 bans (100.64.0.0/10, RFC 6598; set contents only,
# no packet is sent to them). PORTCULLIS_APPLY_TIMING=1 in the environment prints apply's phases.
# Policy: services svc0..svc9999, each one port (tcp or udp, 10000-19999) forwarded to 192.0.2.10,
# each with its own allow CIDR (10,000 distinct /29s from 198.18.0.0/15, RFC 2544's benchmarking
# range; no packet is sent to them), plus management SSH.
set -euo pipefail
PORTCULLIS=${1:-${PORTCULLIS:-$(dirname "$0")/../build/release/portcullis}}
RUNS=${2:-7}
SERVICES=${SERVICES:-10000}
[ "$(id -u)" -eq 0 ] || { echo "apply_bench: needs root" >&2; exit 1; }
[ -x "$PORTCULLIS" ] || { echo "apply_bench: no portcullis binary at $PORTCULLIS" >&2; exit 1; }

NS=pc-bench-apply-$$
WORK=$(mktemp -d /tmp/pc-bench-apply.XXXXXX)
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
# The policy's interfaces exist, as on a real gateway.
ip -n "$NS" link add wan0 type veth peer name lan0

POLICY=$WORK/bench-10k.toml
python3 - "$POLICY" "$SERVICES" <<'EOF'
import ipaddress, sys
path, count = sys.argv[1], int(sys.argv[2])
base = int(ipaddress.IPv4Address("198.18.0.0"))
out = ['[firewall]', 'mode = "gateway"', 'wan = "wan0"', 'lan = "lan0"', 'default = "drop"', '',
       '[management]', 'sources = ["203.0.113.10"]', 'ports = ["tcp/22"]', '']
for i in range(count):
    proto = "tcp" if i % 2 == 0 else "udp"
    cidr = f"{ipaddress.IPv4Address(base + i * 8)}/29"
    out += ['[[service]]', f'name = "svc{i}"', f'ports = ["{proto}/{10000 + i}"]',
            'forward_to = "192.0.2.10"', f'allow_from = ["{cidr}"]', '']
open(path, "w").write("\n".join(out))
EOF

pc() { ip netns exec "$NS" env PORTCULLIS_RUN_DIR="$WORK/run" "$PORTCULLIS" "$@"; }
now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

pc compile "$POLICY" >"$WORK/compiled.nft"
# nft -f baseline: the same text, after removing the old table in the same transaction.
{ echo "table inet portcullis"; echo "delete table inet portcullis"; cat "$WORK/compiled.nft"; } >"$WORK/replace.nft"
echo "policy: $SERVICES services, $SERVICES allow CIDRs; compiled text $(wc -l <"$WORK/compiled.nft") lines, $(wc -c <"$WORK/compiled.nft") bytes"

declare -A samples
for _ in $(seq 1 "$RUNS"); do
  ip netns exec "$NS" nft delete table inet portcullis 2>/dev/null || true
  t=$(now_ns); pc apply "$POLICY" >/dev/null; samples[pc_create]+="$(ms_since "$t") "
  t=$(now_ns); pc apply "$POLICY" >/dev/null; samples[pc_replace]+="$(ms_since "$t") "

  ip netns exec "$NS" nft delete table inet portcullis
  t=$(now_ns); ip netns exec "$NS" nft -f "$WORK/compiled.nft"; samples[nft_create]+="$(ms_since "$t") "
  t=$(now_ns); ip netns exec "$NS" nft -f "$WORK/replace.nft"; samples[nft_replace]+="$(ms_since "$t") "

  t=$(now_ns); pc apply --dry-run "$POLICY" >/dev/null; samples[pc_dry]+="$(ms_since "$t") "
  t=$(now_ns); pc compile "$POLICY" >/dev/null; samples[pc_compile]+="$(ms_since "$t") "
  t=$(now_ns); pc check "$POLICY" >/dev/null 2>&1 || true; samples[pc_check]+="$(ms_since "$t") "
done

ip netns exec "$NS" nft list table inet portcullis >/dev/null

# Two of the services changed: svc0's allow CIDR widened (/29 -> /28), svc1 moved to another port.
POLICY_B=$WORK/bench-10k-b.toml
sed -e '0,/allow_from = \["198.18.0.0\/29"\]/s//allow_from = ["198.18.0.0\/28"]/' \
    -e '0,/ports = \["udp\/10001"\]/s//ports = ["udp\/20001"]/' "$POLICY" >"$POLICY_B"
cmp -s "$POLICY" "$POLICY_B" && { echo "apply_bench: the changed policy is not different" >&2; exit 1; }
pc apply "$POLICY" >/dev/null
for _ in $(seq 1 "$RUNS"); do
  t=$(now_ns); pc apply "$POLICY_B" >/dev/null; samples[pc_change2]+="$(ms_since "$t") "
  t=$(now_ns); pc apply "$POLICY" >/dev/null; samples[pc_change2]+="$(ms_since "$t") "
done

BANS=${BANS:-200000}
if [ "$BANS" -gt 0 ]; then
  python3 - "$WORK/bans.nft" "$BANS" <<'EOF2'
import ipaddress, sys
path, count = sys.argv[1], int(sys.argv[2])
base = int(ipaddress.IPv4Address("100.64.0.0"))
with open(path, "w") as out:
    for start in range(0, count, 50000):
        chunk = [str(ipaddress.IPv4Address(base + 2 * i)) for i in range(start, min(count, start + 50000))]
        out.write("add element inet portcullis ban4 { " + ", ".join(chunk) + " }\n")
EOF2
  t=$(now_ns); ip netns exec "$NS" nft -f "$WORK/bans.nft"; echo "loaded $BANS bans into ban4 with nft -f in $(ms_since "$t") ms"
  for _ in $(seq 1 "$RUNS"); do
    t=$(now_ns); pc apply "$POLICY" >/dev/null; samples[pc_bans_same]+="$(ms_since "$t") "
    t=$(now_ns); pc apply "$POLICY_B" >/dev/null; samples[pc_bans_change2]+="$(ms_since "$t") "
    t=$(now_ns); pc apply "$POLICY" >/dev/null; samples[pc_bans_change2]+="$(ms_since "$t") "
  done
  # The bans survived every apply (first and last one checked).
  last=$(python3 -c "import ipaddress; print(ipaddress.IPv4Address(int(ipaddress.IPv4Address('100.64.0.0')) + 2 * ($BANS - 1)))")
  ip netns exec "$NS" nft get element inet portcullis ban4 "{ 100.64.0.0, $last }" >/dev/null ||
    { echo "apply_bench: bans were lost" >&2; exit 1; }
fi

declare -A medians
report() {  # report KEY LABEL
  local vals med
  vals=${samples[$1]}
  med=$(tr ' ' '\n' <<<"$vals" | grep . | median)
  printf '%-44s median %6d ms   runs: %s\n' "$2" "$med" "$vals"
  medians[$1]=$med
}
echo "runs: $RUNS, kernel $(uname -r), $(nproc) CPUs, $(nft --version)"
report pc_create   "portcullis apply (no table before)"
report nft_create  "nft -f compiled text (no table before)"
report pc_replace  "portcullis apply (replacing the table)"
report nft_replace "nft -f delete+add (replacing the table)"
report pc_dry      "portcullis apply --dry-run (kernel check only)"
report pc_compile  "portcullis compile (parse+validate+compile)"
report pc_check    "portcullis check (parse+validate+report)"
report pc_change2  "portcullis apply, 2 of $SERVICES services changed"
if [ "${BANS:-0}" -gt 0 ]; then
  report pc_bans_same    "same, $BANS bans in ban4: re-apply unchanged"
  report pc_bans_change2 "same, $BANS bans in ban4: 2 services changed"
fi
awk -v a="${medians[pc_create]}" -v b="${medians[nft_create]}" -v c="${medians[pc_replace]}" -v d="${medians[nft_replace]}" 'BEGIN {
  printf "ratio apply/nft -f, create:  %.2f\n", (b > 0 ? a / b : 0)
  printf "ratio apply/nft -f, replace: %.2f\n", (d > 0 ? c / d : 0)
}'
