#!/usr/bin/env bash
# Lab, daemon (issue 3) scenarios 2 and 5, host mode (the gateway namespace is the host), one
# lab bring-up:
#  2. bans: a banned source — IPv4 and IPv6, single address and prefix — is dropped; removing the
#     ban restores it;
#  5. state file: bans survive a daemon restart and a `flush` + start (reboot stand-in: the kernel
#     sets are gone, the state file puts the bans back with their remaining time); a truncated or
#     corrupt state file is reported and does not stop the daemon.
#  upgrade: a table of a version without the split layout (host and prefix bans in ban4) re-applied
#     by this one keeps both bans dropping; removing the old host ban works (it is deleted from
#     banh4 and ban4).
#  paging: 2,800 bans (adopted kernel-only ones, ones with a history, a host in two sets) listed in
#     pages of 700 over the control protocol are complete and distinct; malformed paging requests
#     and stale cursors get clear errors; the CLI pages (`bans list`, --json, --limit) and counts.
# Env: PORTCULLIS, PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
lab_require ip nft socat python3
lab_require_portcullis
lab_init "dmn-bn$$"
lab_up
GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2

cat >"$LAB_DIR/policy.toml" <<'TOML'
[firewall]
mode = "host"
wan = ["wan0", "wan1"]
default = "drop"

[management]
sources = ["192.0.2.10"]
ports = ["tcp/22"]

[[service]]
name = "web"
ports = ["tcp/8000"]
allow_from = ["any"]
TOML

listen_tcp "$GW" 8000 web
wait_listen "$GW" tcp 8000 || lab_die "listener did not start"
dmn_start daemon "$LAB_DIR/policy.toml" || lab_die "portcullis run did not come up"
pass "portcullis run is up (host mode)"

reach() { test "$(tcp_banner "$1" "$2" 8000)" = web; }
all_reach() {
  reach "$WAN" "$LAB_WAN_GW" && reach "$WAN" "$LAB_WAN_GW6" && reach "$WAN2" "$LAB_WAN2_GW" && reach "$WAN2" "$LAB_WAN2_GW6"
}
check "before: all four sources (v4/v6 of both WAN clients) reach the service" all_reach

# ---- 2. bans
ban_case() {  # ban_case LABEL PREFIX NS DST OTHER_NS OTHER_DST
  local label=$1 prefix=$2 ns=$3 dst=$4 other_ns=$5 other_dst=$6
  if dmn_ctl bans add "$prefix" --for 300 >"$LAB_DIR/ban.log" 2>&1; then pass "scenario 2: bans add $prefix"; else
    cat "$LAB_DIR/ban.log"; fail "scenario 2: bans add $prefix"; fi
  check "scenario 2 ($label): the banned source is dropped" not tcp_probe "$ns" "$dst" 8000 1
  check "scenario 2 ($label): another source is not affected" reach "$other_ns" "$other_dst"
  dmn_ctl bans remove "$prefix" >/dev/null 2>&1
  check "scenario 2 ($label): removing the ban restores the source" reach "$ns" "$dst"
}
ban_case "v4 address" "$LAB_WAN2_IP" "$WAN2" "$LAB_WAN2_GW" "$WAN" "$LAB_WAN_GW"
ban_case "v4 prefix" 203.0.113.0/24 "$WAN" "$LAB_WAN_GW" "$WAN2" "$LAB_WAN2_GW"
ban_case "v6 address" "$LAB_WAN2_IP6" "$WAN2" "$LAB_WAN2_GW6" "$WAN" "$LAB_WAN_GW6"
ban_case "v6 prefix" 2001:db8:1::/64 "$WAN" "$LAB_WAN_GW6" "$WAN2" "$LAB_WAN2_GW6"
dmn_ctl bans add 203.0.113.0/24 --for 300 >/dev/null 2>&1
if dmn_ctl bans add 203.0.113.0/25 --for 300 >"$LAB_DIR/overlap.log" 2>&1; then
  fail "scenario 2: an overlapping prefix ban is refused"
else
  check "scenario 2: an overlapping prefix ban is refused and says why" grep -q "overlaps" "$LAB_DIR/overlap.log"
fi
# Split layout: a host inside a banned prefix is its own ban (hash set), removable on its own.
check "scenario 2: a host inside a banned prefix can be banned too" dmn_ctl bans add 203.0.113.10 --for 300
check "scenario 2: ... it is in the host hash set banh4" set_has banh4 203.0.113.10
check "scenario 2: ... and the prefix in the interval set ban4" set_has ban4 203.0.113.0/24
dmn_ctl bans remove 203.0.113.10 >/dev/null 2>&1
check "scenario 2: removing the host leaves the prefix ban dropping the source" not tcp_probe "$WAN" "$LAB_WAN_GW" 8000 1
dmn_ctl bans remove 203.0.113.0/24 >/dev/null 2>&1
check "scenario 2: events ban_added and ban_removed were emitted" \
  sh -c "[ $(dmn_event_count ban_added) -ge 5 ] && [ $(dmn_event_count ban_removed) -ge 5 ]"
# Refresh: banning a banned host again sets its new timeout in the kernel (no delete needed).
dmn_ctl bans add "$LAB_WAN2_IP" --for 300 >/dev/null 2>&1
check "scenario 2: re-banning a banned host succeeds (refresh)" dmn_ctl bans add "$LAB_WAN2_IP" --for 40
check "scenario 2: ... and the kernel element carries the new timeout" \
  sh -c "ip netns exec '$GW' nft list set inet portcullis banh4 | grep -F '$LAB_WAN2_IP' | grep -Eq 'timeout 40s expires (3[0-9]|40)s'"
dmn_ctl bans remove "$LAB_WAN2_IP" >/dev/null 2>&1
check "scenario 2: the refreshed host ban is removed" not set_has banh4 "$LAB_WAN2_IP"

# ---- 5. state file
dmn_ctl bans add "$LAB_WAN2_IP" --for 600 --reason scan >/dev/null 2>&1
dmn_ctl bans add 2001:db8:1::/64 --for 600 >/dev/null 2>&1
wait_until 5 grep -q '"2001:db8:1::/64"' "$DMN_STATE"
check "scenario 5: the state file holds both bans" \
  sh -c "grep -q '\"$LAB_WAN2_IP\"' '$DMN_STATE' && grep -q '\"2001:db8:1::/64\"' '$DMN_STATE'"
dmn_stop daemon
dmn_start daemon2 "$LAB_DIR/policy.toml" || lab_die "restart failed"
dmn_ctl bans list --json >"$LAB_DIR/bans-restart.json"
check "scenario 5: after a daemon restart both bans are listed" \
  sh -c "grep -q '\"$LAB_WAN2_IP\"' '$LAB_DIR/bans-restart.json' && grep -q '2001:db8:1::/64' '$LAB_DIR/bans-restart.json'"
check "scenario 5: ... and the escalation history survived (offences, reason)" \
  python3 -c "
import json,sys
bans = {b['prefix']: b for b in json.load(open('$LAB_DIR/bans-restart.json'))['bans']}
b = bans['$LAB_WAN2_IP']
sys.exit(0 if b['offences'] >= 2 and b['reason'] == 'scan' else 1)"
check "scenario 5: the banned v4 source is still dropped" not tcp_probe "$WAN2" "$LAB_WAN2_GW" 8000 1

dmn_stop daemon2
pc "$GW" flush >/dev/null 2>&1
check "scenario 5: flush removed the table (reboot stand-in)" not table_exists
dmn_start daemon3 "$LAB_DIR/policy.toml" || lab_die "start after flush failed"
check "scenario 5: after flush + start the v4 host ban is back in the kernel (hash set)" set_has banh4 "$LAB_WAN2_IP"
check "scenario 5: after flush + start the v6 prefix ban is back in the kernel" set_has ban6 "2001:db8:1::/64"
check "scenario 5: the re-added ban carries its remaining time, not a fresh one" \
  sh -c "ip netns exec '$GW' nft list set inet portcullis banh4 | grep -F '$LAB_WAN2_IP' | grep -Eq 'timeout (9m[0-9]+s|10m)'"
check "scenario 5: the banned sources are dropped again" \
  sh -c "! ip netns exec '$WAN2' timeout 2 socat -T1 /dev/null TCP:$LAB_WAN2_GW:8000,connect-timeout=1 2>/dev/null"
check "scenario 5: an unbanned source still reaches the service" reach "$WAN" "$LAB_WAN_GW"

dmn_stop daemon3
head -c 37 "$DMN_STATE" >"$DMN_STATE.cut" && mv "$DMN_STATE.cut" "$DMN_STATE"
dmn_start daemon4 "$LAB_DIR/policy.toml" 2>"$LAB_DIR/daemon4.stderr"
check "scenario 5: with a truncated state file the daemon still starts and answers" dmn_answers
wait_until 5 dmn_has_event state_error
check "scenario 5: the truncated state file is reported as a state_error event" dmn_has_event state_error
check "scenario 5: ... and on stderr" grep -q "state file unusable" "$LAB_DIR/daemon4.log"
check "scenario 5: the bad file is kept aside as .corrupt-<time>" sh -c "ls '$DMN_STATE'.corrupt-* >/dev/null 2>&1"
dmn_ctl bans list >"$LAB_DIR/bans-adopted.txt" 2>&1
check "scenario 5: bans already in the kernel are still enforced and adopted" grep -q "$LAB_WAN2_IP" "$LAB_DIR/bans-adopted.txt"
dmn_stop daemon4
printf '{"version":1,"bans":[{"prefix":"not-an-address","expires_at":1}]}' >"$DMN_STATE"
dmn_start daemon5 "$LAB_DIR/policy.toml"
check "scenario 5: with a semantically corrupt state file the daemon still starts" dmn_answers
check "scenario 5: the error names the bad field" grep -q "bans\[0\].prefix" "$DMN_EVENTS"
dmn_stop daemon5

# ---- upgrade: a table from a version without the split layout (bans of hosts and prefixes all in
# ban4), re-applied by this version: nothing is lost, and the old host ban can be removed.
pc "$GW" flush >/dev/null 2>&1
rm -f "$DMN_STATE"
"$PORTCULLIS" compile "$LAB_DIR/policy.toml" | python3 -c '
import re, sys
text = sys.stdin.read()
text = re.sub(r"\tset banh[46] \{[^}]*\}\n\n?", "", text)
sys.stdout.write("".join(l for l in text.splitlines(True) if "@banh" not in l))' >"$LAB_DIR/old-layout.nft"
check "upgrade: the old-layout table has no host hash sets" not grep -q banh "$LAB_DIR/old-layout.nft"
check "upgrade: the old-layout table loads" ns_exec "$GW" nft -f "$LAB_DIR/old-layout.nft"
ns_exec "$GW" nft add element inet portcullis ban4 "{ $LAB_WAN2_IP timeout 10m, 203.0.113.0/24 timeout 10m }"
check "upgrade: before: the old host ban drops its source" not tcp_probe "$WAN2" "$LAB_WAN2_GW" 8000 1
dmn_start daemon6 "$LAB_DIR/policy.toml" || lab_die "start over the old-layout table failed"
check "upgrade: the new table has the host hash sets" sh -c "ip netns exec '$GW' nft list set inet portcullis banh6 >/dev/null"
check "upgrade: the old host ban is still in ban4" set_has ban4 "$LAB_WAN2_IP"
check "upgrade: the old prefix ban is still in ban4" set_has ban4 203.0.113.0/24
check "upgrade: the old host ban still drops its source" not tcp_probe "$WAN2" "$LAB_WAN2_GW" 8000 1
check "upgrade: the old prefix ban still drops its source" not tcp_probe "$WAN" "$LAB_WAN_GW" 8000 1
check "upgrade: IPv6 (not banned) still reaches the service" reach "$WAN2" "$LAB_WAN2_GW6"
dmn_ctl bans list --json >"$LAB_DIR/bans-upgrade.json"
check "upgrade: bans list shows both old bans" \
  sh -c "grep -q '\"$LAB_WAN2_IP\"' '$LAB_DIR/bans-upgrade.json' && grep -q '203.0.113.0/24' '$LAB_DIR/bans-upgrade.json'"
check "upgrade: bans remove of the old host succeeds" dmn_ctl bans remove "$LAB_WAN2_IP"
check "upgrade: ... it is gone from ban4" not set_has ban4 "$LAB_WAN2_IP"
check "upgrade: ... and its source reaches the service again" reach "$WAN2" "$LAB_WAN2_GW"
check "upgrade: the prefix ban still drops" not tcp_probe "$WAN" "$LAB_WAN_GW" 8000 1
check "upgrade: bans remove of the old prefix succeeds" dmn_ctl bans remove 203.0.113.0/24
check "upgrade: ... and its source reaches the service again" reach "$WAN" "$LAB_WAN_GW"
if dmn_ctl bans remove "$LAB_WAN2_IP" >"$LAB_DIR/remove-again.log" 2>&1; then
  fail "upgrade: removing it again is refused"
else
  check "upgrade: removing it again says it is not banned" grep -q "is not banned" "$LAB_DIR/remove-again.log"
fi

# ---- paging: bans.list in pages (docs/control-protocol.md "Paging"). 2,500 adopted host bans
# (put into banh6 with nft: no history), one of them also in ban6 (an older version's layout),
# 200 v4 host bans and 100 v6 prefix bans through the daemon (with a history): 2,800 bans.
python3 - >"$LAB_DIR/adopted.nft" <<'PY'
print("add element inet portcullis banh6 {")
print(",\n".join(f"2001:db8:b0::{i:x} timeout 10m" for i in range(1, 2501)))
print("}")
print("add element inet portcullis ban6 { 2001:db8:b0::1 timeout 5m }")
PY
check "paging: 2,500 adopted v6 host bans load into banh6" ns_exec "$GW" nft -f "$LAB_DIR/adopted.nft"
cat >"$LAB_DIR/paging.py" <<'PY'
import ipaddress, json, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(path)
f = s.makefile("rwb", buffering=0)
def ask(obj):
    f.write((json.dumps(obj) + "\n").encode())
    return json.loads(f.readline())
expected = {f"2001:db8:b0::{i:x}" for i in range(1, 2501)}
if mode == "add":
    for i in range(30, 230):
        r = ask({"cmd": "bans.add", "prefix": f"198.51.100.{i}", "seconds": 600, "reason": "paging"})
        assert r["ok"], r
    for i in range(100):
        r = ask({"cmd": "bans.add", "prefix": f"2001:db8:c0:{i:x}::/64", "seconds": 600})
        assert r["ok"], r
    print("added 300")
    sys.exit(0)
records = {f"198.51.100.{i}" for i in range(30, 230)} | {str(ipaddress.ip_network(f"2001:db8:c0:{i:x}::/64")) for i in range(100)}
expected |= records
if mode == "pages":
    seen, pages, oversize, total, cursor = [], 0, 0, None, None
    while True:
        req = {"cmd": "bans.list", "limit": 700}
        if cursor: req["cursor"] = cursor
        r = ask(req)
        assert r["ok"], r
        pages += 1
        oversize += len(r["bans"]) > 700
        total = r["total"] if total is None else total
        seen += [b["prefix"] for b in r["bans"]]
        if "next" not in r: break
        cursor = r["next"]
    print(f"pages={pages} listed={len(seen)} distinct={len(set(seen))} total={total} oversize={oversize}")
    print("complete:", set(seen) == expected, "missing:", sorted(expected - set(seen))[:3],
          "unexpected:", sorted(set(seen) - expected)[:3])
    again = ask({"cmd": "bans.list", "cursor": cursor, "limit": 700})
    print("reused cursor:", again.get("ok"), again.get("error", ""))
    bad = ask({"cmd": "bans.list", "cursor": "nonsense"})
    print("bad cursor:", bad.get("ok"), bad.get("error", ""))
    zero = ask({"cmd": "bans.list", "limit": 0})
    print("limit 0:", zero.get("ok"), zero.get("error", ""))
    rec, cursor = [], None
    while True:
        req = {"cmd": "bans.list", "limit": 64}
        if cursor: req["cursor"] = cursor
        else: req["source"] = "records"
        r = ask(req)
        rec += [b["prefix"] for b in r["bans"]]
        if "next" not in r: break
        cursor = r["next"]
    print("records only:", len(rec), set(rec) == records, sorted(set(rec) ^ records)[:3])
    old = ask({"cmd": "bans.list"})
    print("unpaged:", old["ok"], len(old["bans"]), set(b["prefix"] for b in old["bans"]) == expected, "next" in old)
PY
check "paging: 300 bans added through the control socket" \
  sh -c "ip netns exec '$GW' python3 '$LAB_DIR/paging.py' '$DMN_CONTROL' add | grep -q 'added 300'"
ns_exec "$GW" python3 "$LAB_DIR/paging.py" "$DMN_CONTROL" pages >"$LAB_DIR/paging.log" 2>&1
sed 's/^/info: /' "$LAB_DIR/paging.log"
check "paging: 2,800 bans come in 4 pages of at most 700, none twice, total announced" \
  grep -q "pages=4 listed=2800 distinct=2800 total=2800 oversize=0" "$LAB_DIR/paging.log"
check "paging: the pages hold exactly the expected bans (the host in two sets once)" grep -q "complete: True" "$LAB_DIR/paging.log"
check "paging: a cursor of a finished listing is refused clearly" grep -q "reused cursor: False cursor expired or unknown" "$LAB_DIR/paging.log"
check "paging: a malformed cursor is refused clearly" grep -q 'bad cursor: False field "cursor": not a cursor' "$LAB_DIR/paging.log"
check "paging: limit 0 is refused clearly" grep -q 'limit 0: False field "limit" must be between 1 and 10000' "$LAB_DIR/paging.log"
check "paging: source=records lists the 300 bans with a history, no kernel-only ones" grep -q "records only: 300 True \\[\\]" "$LAB_DIR/paging.log"
check "paging: the one-reply form of older clients still lists all 2,800" grep -q "unpaged: True 2800 True False" "$LAB_DIR/paging.log"
dmn_ctl bans list --json --page-size 333 >"$LAB_DIR/bans-paged.json" 2>"$LAB_DIR/bans-paged.err"
check "paging: the CLI fetches every page (--json is one document, 2,800 distinct bans)" python3 -c "
import json, sys
d = json.load(open('$LAB_DIR/bans-paged.json'))
p = [b['prefix'] for b in d['bans']]
sys.exit(0 if len(p) == 2800 and len(set(p)) == 2800 and d['total'] == 2800 and d['ok'] else 1)"
check "paging: the JSON output has one ban per line" test "$(grep -c '^,\?{"prefix"\|^,\?{"banned_at"\|^,\?{"expires_at"' "$LAB_DIR/bans-paged.json")" -eq 2800
dmn_ctl bans list >"$LAB_DIR/bans-paged.txt" 2>&1
check "paging: the text listing has 2,800 lines" test "$(wc -l <"$LAB_DIR/bans-paged.txt")" -eq 2800
dmn_ctl bans list --limit 5 >"$LAB_DIR/bans-limit.txt" 2>"$LAB_DIR/bans-limit.err"
check "paging: --limit 5 prints 5 bans" test "$(wc -l <"$LAB_DIR/bans-limit.txt")" -eq 5
check "paging: ... and says how many there are" grep -q "5 of 2800 bans shown" "$LAB_DIR/bans-limit.err"
dmn_ctl bans count --kernel --json >"$LAB_DIR/bans-count.json"
check "paging: bans count --kernel counts the kernel's sets (2,501 + 200 + 100 elements)" python3 -c "
import json, sys
d = json.load(open('$LAB_DIR/bans-count.json'))
k = d['kernel']['by_set']
sys.exit(0 if k['banh6'] == 2500 and k['ban6'] == 101 and k['banh4'] == 200 and d['records']['total'] == 300 else 1)"
dmn_ctl bans count >"$LAB_DIR/bans-count.txt"
check "paging: bans count (text) names the sets" grep -q "banh6" "$LAB_DIR/bans-count.txt"
dmn_stop daemon6
lab_finish
