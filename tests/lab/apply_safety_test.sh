#!/usr/bin/env bash
# Lab, apply safety (issue 2, scenarios 7-8), one lab bring-up. Scenario 6 (zero loss while
# re-applying under traffic) is in tests/lab/quarantine/atomic_reapply_test.sh: it still loses
# about one datagram in 50 re-applies on kernel 6.18 (see docs/lab.md), so it runs on demand
# (`make lab-quarantine`) until that is fixed, not in `make test`.
#  6. (quarantined) atomic apply: while two sequence-numbered UDP streams run from wan through the gateway's DNAT
#     to the LAN server (one steady flow, one with a new source port - a new conntrack entry - for
#     every datagram), policies A and B (both forwarding the stream) are re-applied 50 times;
#     the receiver must see every datagram of both streams;
#  7. commit-confirm: `apply --confirm 5s` of a policy that locks the management source out of SSH
#     takes effect, is not confirmed, and is rolled back: SSH answers again within a bounded wait
#     and the table is the one from before;
#  8. bad policy: apply fails with file:line:column for each error, exits non-zero, and
#     `nft list ruleset` is identical before and after; the same when the policy is valid but
#     the kernel refuses the commit (apply runs no separate `nft -c` first: the commit itself must
#     change nothing when it fails).
# Env: PORTCULLIS (binary), PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
lab_require ip nft socat python3
lab_require_portcullis
lab_init "as$$"
lab_up

GW=$LAB_NS_GW WAN=$LAB_NS_WAN LAN=$LAB_NS_LAN
policy_a=$(lab_policy stream-a.toml)
policy_b=$(lab_policy stream-b.toml)
APPLY_ROUNDS=${APPLY_ROUNDS:-50}

listen_tcp "$GW" 22 gw-ssh
wait_listen "$GW" tcp 22 || lab_die "gateway SSH stand-in did not start"

pc "$GW" apply "$policy_a" >"$LAB_DIR/apply-a.log" 2>&1 || { cat "$LAB_DIR/apply-a.log"; lab_die "apply policy A failed"; }
pass "portcullis apply $(basename "$policy_a")"

# ---- 7. commit-confirm rollback
pc "$GW" apply "$policy_a" >"$LAB_DIR/apply-a2.log" 2>&1 || { cat "$LAB_DIR/apply-a2.log"; lab_die "apply policy A failed"; }
check "scenario 7: before: management source reaches SSH on the gateway" \
  test "$(tcp_banner "$WAN" "$LAB_WAN_GW" 22)" = gw-ssh
gw_nft -s list table inet portcullis >"$LAB_DIR/table-before-confirm.txt"
confirm_start=$SECONDS
if pc "$GW" apply "$(lab_policy lockout.toml)" --confirm 5s >"$LAB_DIR/apply-lockout.log" 2>&1; then
  pass "scenario 7: apply lockout.toml --confirm 5s"
else
  cat "$LAB_DIR/apply-lockout.log"; fail "scenario 7: apply lockout.toml --confirm 5s"
fi
check "scenario 7: the unconfirmed policy is in force: SSH from 203.0.113.10 is locked out" \
  not tcp_probe "$WAN" "$LAB_WAN_GW" 22 1
_ssh_back() { test "$(tcp_banner "$WAN" "$LAB_WAN_GW" 22)" = gw-ssh; }
if wait_until 40 _ssh_back; then
  pass "scenario 7: rolled back without confirm: SSH reachable again after $((SECONDS - confirm_start)) s (deadline 5 s)"
else
  fail "scenario 7: SSH reachable again within 40 s of an unconfirmed 5 s apply"
  cat "$LAB_DIR/pc-run-$GW"/*.log 2>/dev/null | tail -20
fi
gw_nft -s list table inet portcullis >"$LAB_DIR/table-after-rollback.txt"
check "scenario 7: the table after rollback is the one from before (nft -s list table, diff)" \
  diff -u "$LAB_DIR/table-before-confirm.txt" "$LAB_DIR/table-after-rollback.txt"
check "scenario 7: a later apply is accepted again (no confirm left pending)" \
  pc "$GW" apply "$policy_a"
# The other branch: a confirmed apply stays after its deadline (policy B adds the vpn service).
check "scenario 7: apply stream-b.toml --confirm 3s" pc "$GW" apply "$policy_b" --confirm 3s
check "scenario 7: portcullis confirm within the deadline" pc "$GW" confirm
sleep 5
check "scenario 7: the confirmed table is still in place after its deadline" \
  bash -c "ip netns exec '$GW' nft list table inet portcullis | grep -q 'comment \"svc_vpn_accepted\"'"

# ---- 8. bad policy
bad=$(lab_policy bad.toml)
# Stateless listings (-s): counter values are state that any stray packet may bump.
ns_exec "$GW" nft -s list ruleset >"$LAB_DIR/ruleset-before-bad.txt"
pc "$GW" apply "$bad" >"$LAB_DIR/apply-bad.out" 2>"$LAB_DIR/apply-bad.err"
bad_rc=$?
ns_exec "$GW" nft -s list ruleset >"$LAB_DIR/ruleset-after-bad.txt"
sed 's/^/info: apply bad.toml: /' "$LAB_DIR/apply-bad.err" | head -20
check "scenario 8: apply of a bad policy exits non-zero (got $bad_rc)" test "$bad_rc" -ne 0
check "scenario 8: error names bad.toml:7:col (misspelt key 'defualt')" grep -qE 'bad\.toml:7:[0-9]+' "$LAB_DIR/apply-bad.err"
check "scenario 8: error names bad.toml:15:col (udp/70000 out of range)" grep -qE 'bad\.toml:15:[0-9]+' "$LAB_DIR/apply-bad.err"
check "scenario 8: error names bad.toml:17:col (CIDR with host bits set)" grep -qE 'bad\.toml:17:[0-9]+' "$LAB_DIR/apply-bad.err"
check "scenario 8: nft -s list ruleset identical before and after the failed apply" \
  diff -u "$LAB_DIR/ruleset-before-bad.txt" "$LAB_DIR/ruleset-after-bad.txt"

# ---- 8b. a valid policy the kernel refuses at commit time: a kept counted set is made too small
# (same type and flags, `size 1`, so apply keeps it) and the new policy adds one more port to it.
rule=$(ns_exec "$GW" nft -a list table inet portcullis |
  awk '/^\tchain /{c=$2} /@refuse_forward_tcp/{for (i = 1; i <= NF; i++) if ($i == "handle") print c, $(i + 1); exit}')
if [ -n "$rule" ]; then
  ns_exec "$GW" nft delete rule inet portcullis ${rule% *} handle ${rule#* }
  ns_exec "$GW" nft delete set inet portcullis refuse_forward_tcp
  ns_exec "$GW" nft add set inet portcullis refuse_forward_tcp '{ type inet_service; flags interval; counter; size 1; }'
  ns_exec "$GW" nft add element inet portcullis refuse_forward_tcp '{ 8000 comment "svc_web_dropped" }'
fi
check "scenario 8b: the kept set was made too small" test -n "$rule"
{ cat "$policy_b"; printf '\n[[service]]\nname = "web2"\nports = ["tcp/8001"]\nforward_to = "192.0.2.10"\nallow_from = ["any"]\n'; } \
  >"$LAB_DIR/refused.toml"
ns_exec "$GW" nft -s list ruleset >"$LAB_DIR/ruleset-before-refused.txt"
pc "$GW" apply "$LAB_DIR/refused.toml" >"$LAB_DIR/apply-refused.out" 2>"$LAB_DIR/apply-refused.err"
refused_rc=$?
ns_exec "$GW" nft -s list ruleset >"$LAB_DIR/ruleset-after-refused.txt"
sed 's/^/info: apply refused.toml: /' "$LAB_DIR/apply-refused.err" | head -6
check "scenario 8b: a commit the kernel refuses exits 3 (got $refused_rc)" test "$refused_rc" -eq 3
check "scenario 8b: the error says nothing was changed and points into the compiled table" \
  bash -c "grep -q 'nothing was changed' '$LAB_DIR/apply-refused.err' && grep -qE '^table:[0-9]+:' '$LAB_DIR/apply-refused.err'"
check "scenario 8b: nft -s list ruleset identical before and after the refused commit" \
  diff -u "$LAB_DIR/ruleset-before-refused.txt" "$LAB_DIR/ruleset-after-refused.txt"

lab_finish
