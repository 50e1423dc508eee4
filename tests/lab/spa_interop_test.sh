#!/usr/bin/env bash
# SPA interop, our client -> the real fwknopd 2.6.10 (Debian fwknop-server): packets built by
# `portcullis spa` are accepted by fwknopd, a resend of the same bytes is caught as a replay by
# fwknopd's own digest cache, and a packet made with another HMAC key is refused. (The other
# direction -- packets from the real fwknop client decoded by us -- is the known-answer vectors in
# tests/unit/auth.) fwknopd runs as a UDP server in its own namespace with a command-cycle stanza:
# CMD_CYCLE_OPEN runs a script that records the grant instead of touching any firewall (fwknopd's
# --test mode would also skip its replay cache). The client is in a second namespace, joined by veth.
# Needs root, fwknopd, python3; env PORTCULLIS = path of the portcullis binary.
set -euo pipefail

PORTCULLIS=${PORTCULLIS:?set PORTCULLIS to the portcullis binary}
command -v fwknopd >/dev/null || { echo "FAIL: fwknopd not installed (apt-get install fwknop-server)"; exit 1; }
command -v fwknop >/dev/null || { echo "FAIL: fwknop client not installed (apt-get install fwknop-client)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "FAIL: needs root (network namespaces)"; exit 1; }

srv=pc-spaix-srv-$$
cli=pc-spaix-cli-$$
work=$(mktemp -d)
fwknopd_pid=""
source "$(dirname "${BASH_SOURCE[0]}")/../../lab/netns.sh"
cleanup() {
    [[ -n $fwknopd_pid ]] && kill "$fwknopd_pid" 2>/dev/null || true
    netns_destroy "$srv" "$cli"
    rm -rf "$work"
}
trap cleanup EXIT

failures=0
check() {  # check DESCRIPTION COMMAND...
    local description=$1
    shift
    if "$@"; then echo "ok   - $description"; else echo "FAIL - $description"; failures=$((failures + 1)); fi
}

ip netns add "$srv"
ip netns add "$cli"
ip link add "v$$s" type veth peer name "v$$c"
ip link set "v$$s" netns "$srv"
ip link set "v$$c" netns "$cli"
ip -n "$srv" addr add 198.51.100.1/24 dev "v$$s"
ip -n "$cli" addr add 198.51.100.2/24 dev "v$$c"
for ns in "$srv" "$cli"; do
    ip -n "$ns" link set lo up
done
ip -n "$srv" link set "v$$s" up
ip -n "$cli" link set "v$$c" up

# Keys exactly as a user makes them.
HOME=$work fwknop --key-gen >"$work/keys"
HOME=$work fwknop --key-gen >"$work/other-keys"
key=$(sed -n 's/^KEY_BASE64: //p' "$work/keys")
hmac=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$work/keys")
cp "$work/keys" "$work/client.key"
cp "$work/other-keys" "$work/wrong.key"
chmod 600 "$work/client.key" "$work/wrong.key"

cat >"$work/fwknopd.conf" <<EOF
PCAP_INTF v$$s;
ENABLE_UDP_SERVER Y;
UDPSERV_PORT 62201;
ENABLE_DIGEST_PERSISTENCE Y;
FWKNOP_RUN_DIR $work;
EOF
cat >"$work/access.conf" <<EOF
SOURCE 198.51.100.0/24
OPEN_PORTS tcp/22
KEY_BASE64 $key
HMAC_KEY_BASE64 $hmac
CMD_CYCLE_OPEN $work/grant.sh \$SRC \$PROTO/\$PORT
CMD_CYCLE_CLOSE NONE
EOF
printf '#!/bin/sh\necho "$*" >>%s/grants\n' "$work" >"$work/grant.sh"
chmod 755 "$work/grant.sh"
: >"$work/grants"
chmod 600 "$work/fwknopd.conf" "$work/access.conf"
grants() { wc -l <"$work/grants"; }
wait_for_grants() {  # wait_for_grants N
    for _ in $(seq 50); do
        (( $(grants) >= $1 )) && return 0
        sleep 0.1
    done
    return 1
}

# Four candidate packets, then fwknopd exits by itself (-C 4).
ip netns exec "$srv" timeout 60 fwknopd -f -U -v -v -C 4 -c "$work/fwknopd.conf" -a "$work/access.conf" \
    -p "$work/fwknopd.pid" -d "$work/digest.cache" -r "$work" >"$work/fwknopd.log" 2>&1 &
fwknopd_pid=$!
for _ in $(seq 50); do
    grep -q 'Kicking off UDP server' "$work/fwknopd.log" && break
    sleep 0.1
done
check "fwknopd started its UDP server" grep -q 'Kicking off UDP server' "$work/fwknopd.log"

resend() {  # resend PAYLOAD: the same bytes as one UDP datagram, as a capture replay would
    ip netns exec "$cli" python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].encode(), ("198.51.100.1", 62201))' "$1"
}
wait_for_count() {  # wait_for_count PATTERN N
    for _ in $(seq 50); do
        (( $(grep -c -- "$1" "$work/fwknopd.log" || true) >= $2 )) && return 0
        sleep 0.1
    done
    return 1
}

# 1. Our client sends: fwknopd decodes it and would open tcp/22 for 198.51.100.2.
ip netns exec "$cli" "$PORTCULLIS" spa 198.51.100.1 --service ssh --allow-ip 198.51.100.2 \
    --key-file "$work/client.key" --user alice
check "fwknopd decoded the packet sent by portcullis spa" wait_for_count 'SPA Decode (res=0)' 1
check "with our fields (user alice)" grep -q 'Username: alice' "$work/fwknopd.log"
check "with our access message" grep -q 'Message String: 198.51.100.2,tcp/22' "$work/fwknopd.log"
check "and granted it" wait_for_grants 1
check "the grant is for our source and port" grep -qx '198.51.100.2 6/22' "$work/grants"  # fwknopd's $PROTO is the number

# 2. A printed packet with a client timeout, sent by hand, is accepted too...
packet=$("$PORTCULLIS" spa 198.51.100.1 --access tcp/22 --allow-ip 198.51.100.2 --timeout 20 \
    --key-file "$work/client.key" --user bob --print)
resend "$packet"
check "fwknopd accepted a printed client-timeout packet" wait_for_grants 2
check "with message type 3 and the timeout" grep -q 'Client Timeout: 20' "$work/fwknopd.log"

# 3. ...and the same bytes again are a replay for fwknopd.
resend "$packet"
check "fwknopd flagged the resend as a replay" wait_for_count 'Replay detected' 1

# 4. Another HMAC key: refused before decryption.
ip netns exec "$cli" "$PORTCULLIS" spa 198.51.100.1 --service ssh --allow-ip 198.51.100.2 \
    --key-file "$work/wrong.key"
check "fwknopd refused a packet with another HMAC key" wait_for_count 'HMAC_COMPAREFAIL' 1
check "only the two genuine packets were granted" test "$(grants)" -eq 2

# 5. Our client refuses a world-readable key file, as fwknop does.
chmod 644 "$work/client.key"
check "portcullis spa refuses a key file with mode 0644" \
    bash -c '! "$0" spa 198.51.100.1 --service ssh --key-file "$1" --print 2>/dev/null' "$PORTCULLIS" "$work/client.key"

wait "$fwknopd_pid" 2>/dev/null || true
fwknopd_pid=""
if (( failures > 0 )); then
    echo "--- fwknopd log (filtered) ---"
    grep -vE '^ +[A-Z_0-9]+: ' "$work/fwknopd.log" | tail -60
    exit 1
fi
echo "spa_interop: all checks passed"
