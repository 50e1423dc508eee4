#!/usr/bin/env bash
# Lab, daemon (issue 3): `portcullis reload` (and SIGHUP) while an `apply --confirm` is pending is
# refused with a clear error — the pending rollback would otherwise restore the table from before
# that apply and silently undo the reload. After `portcullis confirm`, reload works again.
# Env: PORTCULLIS, PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
lab_require ip nft socat python3
lab_require_portcullis
lab_init "dmn-cf$$"
lab_up
GW=$LAB_NS_GW

policy_text() {  # policy_text PORT
  cat <<TOML
[firewall]
mode = "host"
wan = ["wan0", "wan1"]
default = "drop"

[management]
sources = ["192.0.2.10"]
ports = ["tcp/22"]

[[service]]
name = "web"
ports = ["tcp/$1"]
allow_from = ["any"]
TOML
}
policy_text 8000 >"$LAB_DIR/policy.toml"
policy_text 8001 >"$LAB_DIR/confirm.toml"

dmn_start daemon "$LAB_DIR/policy.toml" || lab_die "portcullis run did not come up"
pass "portcullis run is up"
generation=$(dmn_status_field generation)

if pc "$GW" apply "$LAB_DIR/confirm.toml" --confirm 60s >"$LAB_DIR/apply.log" 2>&1; then
  pass "apply --confirm 60s while the daemon runs"
else
  cat "$LAB_DIR/apply.log"; fail "apply --confirm 60s while the daemon runs"
fi
if dmn_ctl reload >"$LAB_DIR/reload.log" 2>&1; then
  cat "$LAB_DIR/reload.log"; fail "reload during a pending apply --confirm is refused"
else
  pass "reload during a pending apply --confirm is refused"
fi
check "... and the error says why and what to do" \
  sh -c "grep -q 'apply --confirm' '$LAB_DIR/reload.log' && grep -q 'portcullis confirm' '$LAB_DIR/reload.log'"
check "... the generation did not move" test "$(dmn_status_field generation)" = "$generation"
check "... a reload_failed event was emitted" dmn_has_event reload_failed
kill -HUP "$(dmn_pid daemon)"
wait_until 5 sh -c "[ \$(grep -c '\"type\":\"reload_failed\"' '$DMN_EVENTS') -ge 2 ]"
check "SIGHUP during a pending apply --confirm is refused too" \
  sh -c "[ \$(grep -c '\"type\":\"reload_failed\"' '$DMN_EVENTS') -ge 2 ]"
check "the confirmed-to-be table (tcp/8001) is still the one in force" \
  sh -c "ip netns exec '$GW' nft list table inet portcullis | grep -q 8001"

if pc "$GW" confirm >"$LAB_DIR/confirm.log" 2>&1; then pass "portcullis confirm"; else
  cat "$LAB_DIR/confirm.log"; fail "portcullis confirm"; fi
check "after confirm, reload works again" dmn_ctl reload
check "... and moved the generation" test "$(dmn_status_field generation)" -gt "$generation"
check "... back to the daemon's policy (tcp/8000)" \
  sh -c "ip netns exec '$GW' nft list table inet portcullis | grep -q 8000"
dmn_stop daemon
lab_finish
