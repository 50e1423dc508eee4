#!/usr/bin/env bash
# `portcullis diagnose` as a user runs it: exit codes (0 all sessions fine, 5 a failure found,
# 1 unreadable capture, 2 bad command line), `-` for standard input, and --json. No root, no lab:
# it reads the fixtures in tests/fixtures/diagnose.
#   env: PORTCULLIS (the binary), PC_SOURCE_ROOT
set -uo pipefail
binary=${PORTCULLIS:?path of the portcullis binary}
root=${PC_SOURCE_ROOT:?source tree}
fixtures=$root/tests/fixtures/diagnose
work=$(mktemp -d /tmp/pc-dcli.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0

check() {  # check DESCRIPTION CONDITION...
    local description=$1
    shift
    if "$@"; then echo "ok   $description"; else echo "FAIL $description"; failures=$((failures + 1)); fi
}

run() {  # run NAME ARGS... -> $work/NAME.out, $work/NAME.err, returns the exit code in $rc
    local name=$1
    shift
    "$binary" "$@" > "$work/$name.out" 2> "$work/$name.err"
    rc=$?
}

# A working session: exit 0, the text report says established.
run ok diagnose "$fixtures/ikev2-success.pcap"
check "success capture exits 0 (got $rc)" test "$rc" -eq 0
check "success capture is reported established" grep -q "established" "$work/ok.out"

# A failing session: exit 5, the cause is named with its frames.
run blocked diagnose "$fixtures/ikev2-blocked-500.pcap"
check "failing capture exits 5 (got $rc)" test "$rc" -eq 5
check "failing capture names the unanswered requests" grep -q "ike-no-answer-500" "$work/blocked.out"

# Standard input: same verdict and exit code as the file.
"$binary" diagnose - < "$fixtures/ikev2-blocked-500.pcap" > "$work/stdin.out" 2> "$work/stdin.err"
rc=$?
check "stdin capture exits 5 (got $rc)" test "$rc" -eq 5
check "stdin report names <stdin>" grep -q "<stdin>" "$work/stdin.out"
check "stdin report has the same finding" grep -q "ike-no-answer-500" "$work/stdin.out"
cat "$fixtures/l2tp-session-cdn.pcap" | "$binary" diagnose - --json > "$work/stdin.json" 2> "$work/stdin-json.err"
rc=$?
check "piped pcap with --json exits 5 (got $rc)" test "$rc" -eq 5

# pcapng on standard input goes through libpcap after the reader looked at its first bytes.
pcapng=${PC_SHARED_ROOT:-$root/../shared}/captures/ndpi/esp.pcapng
if [[ -f $pcapng ]]; then
    "$binary" diagnose --json "$pcapng" > "$work/ng-file.json" 2>&1
    "$binary" diagnose --json - < "$pcapng" > "$work/ng-stdin.json" 2> "$work/ng-stdin.err"
    rc=$?
    check "pcapng on stdin is read (exit $rc)" test "$rc" -eq 0 -o "$rc" -eq 5
    check "pcapng on stdin gives the same frames and sessions as the file" python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["frames"] > 0 and a["frames"] == b["frames"], (a["frames"], b["frames"])
assert a["sessions"] == b["sessions"]
assert "read_error" not in b, b.get("read_error")' "$work/ng-file.json" "$work/ng-stdin.json"
else
    check "shared capture $pcapng is present" false
fi

# --json: one document with the documented fields.
run json diagnose --json "$fixtures/ikev2-blocked-500.pcap"
check "--json exits 5 (got $rc)" test "$rc" -eq 5
check "--json parses and carries the failing session" python3 - "$work/json.out" "$work/stdin.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["failure"] is True, report["failure"]
assert report["frames"] == 3, report["frames"]
sessions = report["sessions"]
assert len(sessions) == 1, sessions
session = sessions[0]
assert session["protocol"] == "IKEv2" and session["outcome"] == "failed", session
assert session["initiator"] == {"address": "192.0.2.1", "port": 500}, session["initiator"]
finding = [f for f in session["findings"] if f["code"] == "ike-no-answer-500"][0]
assert finding["code"] == "ike-no-answer-500" and finding["frames"] == [1, 2, 3], finding
assert finding["severity"] == "failure" and finding["advice"], finding
piped = json.load(open(sys.argv[2]))
assert piped["capture"] == "<stdin>", piped["capture"]
codes = [f["code"] for s in piped["sessions"] for f in s["findings"]]
assert "l2tp-call-no-ppp" in codes, codes
PY
run json_ok diagnose --json "$fixtures/ikev2-success.pcap"
check "--json on a working capture exits 0 (got $rc)" test "$rc" -eq 0
check "--json on a working capture says no failure" python3 -c \
    'import json,sys; r=json.load(open(sys.argv[1])); assert r["failure"] is False and r["sessions"][0]["outcome"] == "established"' \
    "$work/json_ok.out"

# Unreadable input: exit 1 with a message naming the file and why; nothing on stdout.
run missing diagnose "$work/no-such.pcap"
check "missing file exits 1 (got $rc)" test "$rc" -eq 1
check "missing file is named in the error" grep -q "no-such.pcap" "$work/missing.err"
check "missing file prints no report" test ! -s "$work/missing.out"
echo "this is not a capture, just text long enough to hold a header" > "$work/text.pcap"
run text diagnose "$work/text.pcap"
check "non-capture file exits 1 (got $rc)" test "$rc" -eq 1
check "non-capture file says it cannot be read" grep -q "cannot read capture" "$work/text.err"
: > "$work/empty"
"$binary" diagnose - < "$work/empty" > "$work/empty.out" 2> "$work/empty.err"
rc=$?
check "empty stdin exits 1 (got $rc)" test "$rc" -eq 1
check "empty stdin names <stdin>" grep -q "<stdin>" "$work/empty.err"
# A capture cut in the middle of a record: the frames before the cut are still diagnosed.
python3 - "$fixtures/ikev2-blocked-500.pcap" "$work/cut.pcap" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
first = struct.unpack('<I', data[32:36])[0]  # caplen of frame 1
open(sys.argv[2], 'wb').write(data[:24 + 16 + first + 20])  # frame 2 cut inside its data
PY
run cut diagnose --json "$work/cut.pcap"
check "truncated capture still reports (exit $rc)" test "$rc" -eq 0
check "truncated capture carries read_error" python3 -c \
    'import json,sys; r=json.load(open(sys.argv[1])); assert "frame 2" in r["read_error"] and r["frames"] == 1, r' "$work/cut.out"

# Bad command lines: exit 2.
run noarg diagnose
check "no capture argument exits 2 (got $rc)" test "$rc" -eq 2
run badopt diagnose --no-such-option "$fixtures/ikev2-success.pcap"
check "unknown option exits 2 (got $rc)" test "$rc" -eq 2

if [[ $failures -ne 0 ]]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all diagnose CLI checks passed"
