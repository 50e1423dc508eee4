#!/usr/bin/env bash
# Lab, SPA through the daemon (issue 4, tests 1, 2, 5, 6), gateway mode, one lab bring-up:
#  1. the REAL fwknop client (Debian fwknop-client, HMAC keys) opens a guarded SSH stand-in
#     (guard = "spa", DNATed to the LAN server) for its own source via `portcullis run`: a TCP
#     connection succeeds inside the window, fails after it, and one made inside the window
#     survives the expiry; the other WAN client never gets in;
#  2. refused, each with its named outcome (event + metric) and the port staying shut: a resend of
#     the same captured bytes (replay), also after a daemon restart (replay cache in the state
#     file); timestamps -121 s and +121 s (the client's --time-offset-minus/plus); another HMAC
#     key; a flipped byte; a service the key may not open;
#  5. nmap from the second WAN client shows the guarded port filtered before and after the first
#     client's grant, and the SPA port open|filtered (nothing answers it, no ICMP unreachable);
#  6. IPv6: our own `portcullis spa` client opens a service on the gateway for its IPv6 source;
#  and a reload re-reads a rotated key file (old key refused, new key opens, replays still known).
#  The SPA thread: real-time (SCHED_FIFO) when allowed; when the kernel refuses (the restarted
#  daemon runs without CAP_SYS_NICE and with RLIMIT_RTPRIO 0) one spa_priority event and SPA works
#  at the normal policy; a reload that changes [spa] priority replaces the thread, keeping the
#  replay cache and the counters.
# Env: PORTCULLIS, PC_SOURCE_ROOT. Needs root, fwknop, nmap, socat, curl, python3.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
lab_require ip nft socat python3 fwknop nmap curl
lab_require_portcullis
lab_init "spad$$"
lab_up
GW=$LAB_NS_GW WAN=$LAB_NS_WAN WAN2=$LAB_NS_WAN2 LAN=$LAB_NS_LAN
OPEN_SECONDS=8

# Keys exactly as a user makes them; fwknop writes its own files under this HOME, never root's.
export HOME=$LAB_DIR/home
mkdir -p "$HOME"
fwknop --key-gen --no-rc-file >"$LAB_DIR/alice.keys"
fwknop --key-gen --no-rc-file >"$LAB_DIR/mallory.keys"
KEY=$(sed -n 's/^KEY_BASE64: //p' "$LAB_DIR/alice.keys")
HMAC=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$LAB_DIR/alice.keys")
MKEY=$(sed -n 's/^KEY_BASE64: //p' "$LAB_DIR/mallory.keys")
MHMAC=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$LAB_DIR/mallory.keys")
cp "$LAB_DIR/alice.keys" "$LAB_DIR/alice.key"
chmod 600 "$LAB_DIR/alice.key"

cat >"$LAB_DIR/policy.toml" <<TOML
[firewall]
mode = "gateway"
wan = ["wan0", "wan1"]
lan = "lan0"
default = "drop"
log_drops = 5

[management]
sources = ["192.0.2.99"]
ports = ["tcp/2222"]

[[service]]
name = "ssh"
ports = ["tcp/22"]
forward_to = "192.0.2.10"
allow_from = ["any"]
guard = "spa"

[[service]]
name = "web"
ports = ["tcp/8443"]
forward_to = "192.0.2.10"
allow_from = ["any"]
guard = "spa"

[[service]]
name = "admin"
ports = ["tcp/2022"]
allow_from = ["any"]
guard = "spa"

[spa]
window = "120s"

[[spa.key]]
name = "alice"
key_file = "alice.key"
services = ["ssh", "admin"]
max_open = "${OPEN_SECONDS}s"
TOML

# ---- the key file must be 0600: `check` refuses it otherwise, with file:line:col
chmod 644 "$LAB_DIR/alice.key"
pc "$GW" check "$LAB_DIR/policy.toml" >"$LAB_DIR/check-0644.log" 2>&1
check "a 0644 key file is a policy error at its line" grep -q "policy.toml:[0-9]*:[0-9]*: error: key_file: .*mode 0644" "$LAB_DIR/check-0644.log"
chmod 600 "$LAB_DIR/alice.key"
check "with mode 0600 the policy checks clean" pc "$GW" check "$LAB_DIR/policy.toml"

# Stand-ins: SSH on the LAN server (echo server: every byte comes back), 8443 there too, and a
# listener on the gateway itself for the local (IPv6) service.
lab_bg echo "$LAN" socat "TCP-LISTEN:22,reuseaddr,fork" EXEC:cat >/dev/null
lab_bg web "$LAN" socat "TCP-LISTEN:8443,reuseaddr,fork" EXEC:cat >/dev/null
lab_bg admin "$GW" socat "TCP6-LISTEN:2022,ipv6only=0,reuseaddr,fork" "SYSTEM:echo admin" >/dev/null
wait_listen "$LAN" tcp 22 || lab_die "ssh stand-in did not start"
wait_listen "$GW" tcp 2022 || lab_die "admin stand-in did not start"

dmn_start daemon "$LAB_DIR/policy.toml" --metrics 127.0.0.1:9795 || lab_die "portcullis run did not come up"
pass "portcullis run is up with SPA on NFLOG"
check "the daemon bound the SPA NFLOG group 62201" \
  sh -c "ip netns exec $GW '$PORTCULLIS' status --json --control '$DMN_CONTROL' | grep -q '\"group\": *62201'"

scrape() { ns_exec "$GW" curl -s --max-time 5 http://127.0.0.1:9795/metrics; }
outcome() { scrape | awk -v o="$1" -F' ' '$1 == "portcullis_spa_packets_total{outcome=\"" o "\"}" { print $2 }'; }
outcome_is() { [ "$(outcome "$1")" = "$2" ]; }
reason_events() { grep '"type":"spa_rejected"' "$DMN_EVENTS" | grep -c "\"reason\":\"$1\"" || true; }
scheduling_is() { dmn_ctl status --json | grep -q "\"thread_scheduling\": *\"$1\""; }
wait_until 5 scheduling_is fifo
check "the SPA thread runs SCHED_FIFO (root may)" scheduling_is fifo
check "... and the metric says so" sh -c "ip netns exec $GW curl -s --max-time 5 http://127.0.0.1:9795/metrics | grep -qx 'portcullis_spa_thread_realtime 1'"
check "... and no spa_priority warning was emitted" test "$(grep -c '"type":"spa_priority"' "$DMN_EVENTS")" -eq 0

# fwknop from a WAN namespace. Extra arguments are passed through (-A, offsets, -B file).
fwknop_from() {
  local ns=$1 source=$2 key=$3 hmac=$4; shift 4
  ns_exec "$ns" fwknop --no-rc-file -D "$LAB_WAN_GW" -a "$source" --key-base64-rijndael "$key" \
    --key-base64-hmac "$hmac" --use-hmac "$@" >>"$LAB_DIR/fwknop.log" 2>&1
}
# The same bytes again, as a capture replay would send them.
resend() {
  ns_exec "$WAN" python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(open(sys.argv[1], "rb").read().strip(), (sys.argv[2], 62201))' "$1" "$LAB_WAN_GW"
}

nmap_has() { nmap_ports "$1" "$2" | grep -qx "$3"; }

# ---- 5. nmap before any grant
nmap_scan before "$WAN2" -sS -sU -p T:22,T:8443,U:62201 "$LAB_WAN2_GW"
check "scenario 5: before any grant nmap sees tcp/22 filtered" nmap_has before filtered tcp/22
check "scenario 5: the SPA port is open|filtered (no answer, no ICMP unreachable)" nmap_has before 'open|filtered' udp/62201
check "scenario 1: before SPA the guarded SSH is closed to 203.0.113.10" not tcp_probe "$WAN" "$LAB_WAN_GW" 22 1

# ---- 1. the real fwknop client opens it for its source
fwknop_from "$WAN" "$LAB_WAN_IP" "$KEY" "$HMAC" -A tcp/22 -B "$LAB_DIR/first.pkt"
opened_at=$SECONDS
check "scenario 1: fwknop sent the packet (saved with -B)" test -s "$LAB_DIR/first.pkt"
wait_until 5 set_has grant4_ssh "$LAB_WAN_IP"
check "scenario 1: the grant for 203.0.113.10 is in grant4_ssh" set_has grant4_ssh "$LAB_WAN_IP"
check "scenario 1: inside the window a TCP connection succeeds" tcp_probe "$WAN" "$LAB_WAN_GW" 22 2
check "scenario 1: the daemon emitted spa_accepted for key alice" sh -c "grep '\"type\":\"spa_accepted\"' '$DMN_EVENTS' | grep -q '\"key\":\"alice\"'"
check "scenario 1: ... and grant_opened for ssh with the key's max_open (${OPEN_SECONDS}s)" \
  sh -c "grep '\"type\":\"grant_opened\"' '$DMN_EVENTS' | grep -q '\"seconds\":$OPEN_SECONDS'"
check "scenario 1: the granted metric counts it" outcome_is granted 1
check "scenario 1: the other WAN client is still refused" not tcp_probe "$WAN2" "$LAB_WAN2_GW" 22 1

# ---- 5. nmap after someone else's grant
nmap_scan after "$WAN2" -sS -p T:22,T:8443 "$LAB_WAN2_GW"
check "scenario 5: after 203.0.113.10's grant nmap from 198.51.100.20 still sees tcp/22 filtered" \
  nmap_has after filtered tcp/22

# A connection made inside the window, used again after the grant expired.
cat >"$LAB_DIR/longlived.py" <<PY
import socket, time
s = socket.create_connection(("$LAB_WAN_GW", 22), timeout=3)
s.sendall(b"inside\n")
print("first:", s.recv(100).decode().strip(), flush=True)
time.sleep($OPEN_SECONDS + 3)
s.sendall(b"after-expiry\n")
s.settimeout(3)
print("second:", s.recv(100).decode().strip(), flush=True)
PY
lab_bg longlived "$WAN" python3 "$LAB_DIR/longlived.py" >/dev/null

# ---- 2. replay of the same bytes while the grant is open: refused (no second grant)
resend "$LAB_DIR/first.pkt"
wait_until 5 outcome_is replay 1
check "scenario 2: a resend of the captured bytes is refused as a replay (metric)" outcome_is replay 1
check "scenario 2: ... and as an spa_rejected event with reason replay" test "$(reason_events replay)" -ge 1

sleep $((OPEN_SECONDS - (SECONDS - opened_at) + 2))
check "scenario 1: after the window a new TCP connection fails" not tcp_probe "$WAN" "$LAB_WAN_GW" 22 1
wait_until 15 not kill -0 "$(cat "$LAB_DIR/longlived.pid")"
sed 's/^/info: longlived: /' "$LAB_DIR/longlived.log"
check "scenario 1: the connection made inside the window still works after expiry" \
  grep -q "second: after-expiry" "$LAB_DIR/longlived.log"

resend "$LAB_DIR/first.pkt"
wait_until 5 outcome_is replay 2
check "scenario 2: the replay after expiry does not reopen it" not tcp_probe "$WAN" "$LAB_WAN_GW" 22 1

# ---- 2. stale, both directions
fwknop_from "$WAN" "$LAB_WAN_IP" "$KEY" "$HMAC" -A tcp/22 --time-offset-minus 121s
fwknop_from "$WAN" "$LAB_WAN_IP" "$KEY" "$HMAC" -A tcp/22 --time-offset-plus 121s
wait_until 5 outcome_is stale 2
check "scenario 2: timestamps -121 s and +121 s are refused as stale" outcome_is stale 2
check "scenario 2: ... stale packets open nothing" not tcp_probe "$WAN" "$LAB_WAN_GW" 22 1

# ---- 2. another HMAC key (right Rijndael key, wrong HMAC key) and a wholly other key pair
fwknop_from "$WAN" "$LAB_WAN_IP" "$KEY" "$MHMAC" -A tcp/22
fwknop_from "$WAN" "$LAB_WAN_IP" "$MKEY" "$MHMAC" -A tcp/22
wait_until 5 outcome_is bad_hmac 2
check "scenario 2: packets with another HMAC key are refused (bad_hmac)" outcome_is bad_hmac 2

# ---- 2. flipped bytes: a fresh genuine packet, one character changed
fwknop_from "$WAN" "$LAB_WAN_IP" "$KEY" "$HMAC" -A tcp/22 -T -B "$LAB_DIR/fresh.pkt"
python3 - "$LAB_DIR/fresh.pkt" "$LAB_DIR/flipped.pkt" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read().strip())
i = len(data) // 2
data[i] = ord("A") if data[i] != ord("A") else ord("B")
open(sys.argv[2], "wb").write(bytes(data))
PY
resend "$LAB_DIR/flipped.pkt"
wait_until 5 outcome_is bad_hmac 3
check "scenario 2: a flipped byte is refused before decryption (bad_hmac)" outcome_is bad_hmac 3
check "scenario 2: ... nothing failed to decrypt (HMAC checked first)" outcome_is decrypt_failed 0
check "scenario 2: ... and the port stays shut" not tcp_probe "$WAN" "$LAB_WAN_GW" 22 1

# ---- 2. a service the key may not open (web is SPA-guarded, alice's key does not list it)
fwknop_from "$WAN" "$LAB_WAN_IP" "$KEY" "$HMAC" -A tcp/8443
wait_until 5 outcome_is service_not_allowed 1
check "scenario 2: tcp/8443 (service web) is refused: service_not_allowed" outcome_is service_not_allowed 1
check "scenario 2: ... web stays shut" not tcp_probe "$WAN" "$LAB_WAN_GW" 8443 1
check "scenario 2: every refusal was an spa_rejected event" test "$(grep -c '"type":"spa_rejected"' "$DMN_EVENTS")" -ge 8
check "scenario 2: exactly one grant was ever opened for ssh" \
  test "$(grep '"type":"grant_opened"' "$DMN_EVENTS" | grep -c '"service":"ssh"')" -eq 1

# ---- 2. replay after a daemon restart: the replay cache is in the state file
check "the state file holds the replay cache" grep -q '"spa_replay"' "$DMN_STATE"
dmn_stop daemon
# The restart also runs the daemon where real-time is refused: no CAP_SYS_NICE, RLIMIT_RTPRIO 0.
REAL_PORTCULLIS=$PORTCULLIS
cat >"$LAB_DIR/pc-nonice" <<EOF
#!/bin/sh
exec prlimit --rtprio=0 setpriv --bounding-set -sys_nice --inh-caps -sys_nice -- "$REAL_PORTCULLIS" "\$@"
EOF
chmod +x "$LAB_DIR/pc-nonice"
PORTCULLIS=$LAB_DIR/pc-nonice
dmn_start daemon2 "$LAB_DIR/policy.toml" --metrics 127.0.0.1:9795 || lab_die "restarted daemon did not come up"
resend "$LAB_DIR/first.pkt"
wait_until 5 outcome_is replay 1
check "scenario 2: after a restart the captured bytes are still a replay" outcome_is replay 1
check "scenario 2: ... and open nothing" not tcp_probe "$WAN" "$LAB_WAN_GW" 22 1
resend "$LAB_DIR/fresh.pkt"  # genuine, never sent before, still inside the window
wait_until 5 set_has grant4_ssh "$LAB_WAN_IP"
check "the restarted daemon accepts a genuine packet it has not seen" tcp_probe "$WAN" "$LAB_WAN_GW" 22 2
wait_until 5 grep -q '"type":"spa_priority"' "$DMN_EVENTS"
check "without CAP_SYS_NICE the SPA thread runs at the normal policy" scheduling_is normal
check "... with exactly one spa_priority event naming the kernel's refusal" \
  test "$(grep '"type":"spa_priority"' "$DMN_EVENTS" | grep -c '"error":"Operation not permitted"')" -eq 1

# ---- 6. IPv6 with our own client, to a service on the gateway itself
check "scenario 6: before SPA the admin port is closed over IPv6" not tcp_probe "$WAN" "$LAB_WAN_GW6" 2022 1
ns_exec "$WAN" "$PORTCULLIS" spa "$LAB_WAN_GW6" --access tcp/2022 --key-file "$LAB_DIR/alice.key" --user alice \
  >"$LAB_DIR/spa6.log" 2>&1
check "scenario 6: portcullis spa sent over IPv6" test $? -eq 0
wait_until 5 set_has grant6_admin "$LAB_WAN_IP6"
check "scenario 6: the grant for 2001:db8:1::10 is in grant6_admin" set_has grant6_admin "$LAB_WAN_IP6"
check "scenario 6: a TCP connection over IPv6 succeeds" test "$(tcp_banner "$WAN" "$LAB_WAN_GW6" 2022)" = admin
check "scenario 6: the IPv4 address of the same client was not opened for admin" not tcp_probe "$WAN" "$LAB_WAN_GW" 2022 1
check "scenario 6: the other WAN client is refused over IPv6" not tcp_probe "$WAN2" "$LAB_WAN2_GW6" 2022 1

# ---- reload: key files are re-read (key rotation); the SPA socket and replay cache stay
fwknop --key-gen --no-rc-file >"$LAB_DIR/alice2.keys"
cp "$LAB_DIR/alice2.keys" "$LAB_DIR/alice.key"
chmod 600 "$LAB_DIR/alice.key"
NKEY=$(sed -n 's/^KEY_BASE64: //p' "$LAB_DIR/alice2.keys")
NHMAC=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$LAB_DIR/alice2.keys")
check "reload with a rotated key file succeeds" dmn_ctl reload
fwknop_from "$WAN" "$LAB_WAN_IP" "$KEY" "$HMAC" -A tcp/22
wait_until 5 outcome_is bad_hmac 1
check "after the reload the old key is refused (bad_hmac)" outcome_is bad_hmac 1
fwknop_from "$WAN" "$LAB_WAN_IP" "$NKEY" "$NHMAC" -A tcp/22
wait_until 5 outcome_is granted 3
check "... and the new key opens (third grant of this daemon)" outcome_is granted 3
resend "$LAB_DIR/first.pkt"
wait_until 5 outcome_is replay 2
check "the replay cache survived the reload" outcome_is replay 2

# ---- reload with [spa] priority = "normal": a new SPA thread, same replay cache and counters
sed -i 's/^window = "120s"$/window = "120s"\npriority = "normal"/' "$LAB_DIR/policy.toml"
check "reload with [spa] priority = normal succeeds" dmn_ctl reload
resend "$LAB_DIR/first.pkt"
wait_until 5 outcome_is replay 3
check "the new SPA thread still knows the captured packet, and the counters carried over" outcome_is replay 3
check "... it runs at the normal policy without asking (no second spa_priority event)" \
  test "$(grep -c '"type":"spa_priority"' "$DMN_EVENTS")" -eq 1
fwknop_from "$WAN" "$LAB_WAN_IP" "$NKEY" "$NHMAC" -A tcp/22
wait_until 5 outcome_is granted 4
check "... and grants (fourth grant of this daemon)" outcome_is granted 4

dmn_stop daemon2
check "SIGTERM leaves the table in place (fail-closed)" table_exists
if [ "$LAB_FAILS" -ne 0 ]; then
  echo "--- events ---"; cat "$DMN_EVENTS"
  echo "--- daemon ---"; cat "$LAB_DIR/daemon.log" "$LAB_DIR/daemon2.log" 2>/dev/null | tail -40
fi
lab_finish
