#!/usr/bin/env bash
# Lab, PPTP preset through the gateway (issue 2, scenario 4): the compiled ruleset assigns the
# conntrack helper "pptp" explicitly; a real pptp-linux client in wan opens the control connection
# to TCP 1723, which the gateway DNATs to pptpd on the LAN server; conntrack shows helper=pptp; the
# call's enhanced GRE passes both ways through the helper (the kernel has no PPP, so stand-in
# peers exchange LCP frames over it). Issue 5: a burst of SYNs to 1723 from another source is cut
# down to its per-source limit (control_limit, default 5/s burst 10) in the kernel, while the real
# client still places a call.
# Env: PORTCULLIS (binary), PC_SOURCE_ROOT. Needs root. Prints PASS/FAIL lines.
set -u
source "${PC_SOURCE_ROOT:-$(dirname "$0")/../..}/lab/lib.sh"
lab_require ip nft pptp pptpd conntrack tcpdump python3 hping3
lab_require_portcullis
lab_init "pptp$$"
lab_up

GW=$LAB_NS_GW WAN=$LAB_NS_WAN LAN=$LAB_NS_LAN
policy=$(lab_policy pptp.toml)

if pc "$GW" apply "$policy" >"$LAB_DIR/apply.log" 2>&1; then
  pass "portcullis apply $(basename "$policy")"
else
  cat "$LAB_DIR/apply.log"; lab_die "portcullis apply failed"
fi
gw_ruleset >"$LAB_DIR/ruleset.txt"
check "scenario 4: ruleset defines a ct helper object of type \"pptp\"" \
  grep -qE 'type "pptp" protocol tcp' "$LAB_DIR/ruleset.txt"
check "scenario 4: ruleset assigns it with 'ct helper set'" grep -q 'ct helper set' "$LAB_DIR/ruleset.txt"

pptpd_start "$LAN" || lab_die "pptpd did not start in lan"
# Watch the WAN side for the gateway's "protocol unreachable" that GRE gets without the helper.
lab_bg icmp-watch "$WAN" tcpdump -n -l -i eth0 'icmp[icmptype] == 3 and icmp[icmpcode] == 2' >/dev/null
lab_bg lan-capture "$LAN" tcpdump -n -l -i eth0 'proto gre or tcp port 1723' >/dev/null
sleep 1

call=$(pptp_call "$WAN" "$LAB_WAN_GW" 3)
echo "info: pptp client: $call"
ns_exec "$GW" conntrack -L 2>/dev/null >"$LAB_DIR/conntrack.txt"
sleep 0.5
lab_stop icmp-watch
lab_stop lan-capture
sent=$(sed -n 's/.*frames_sent=\([0-9]*\).*/\1/p' <<<"$call")
received=$(sed -n 's/.*frames_received=\([0-9]*\).*/\1/p' <<<"$call")

check "scenario 4: conntrack on the gateway shows the 1723 control connection with helper=pptp" \
  grep -qE 'dport=1723 .*helper=pptp' "$LAB_DIR/conntrack.txt"
check "scenario 4: the control connection was DNATed to the LAN server 192.0.2.10" \
  grep -qE 'dst=203\.0\.113\.1 .*dport=1723 src=192\.0\.2\.10 ' "$LAB_DIR/conntrack.txt"
check "scenario 4: pptpd on the LAN server answered the control connection (SCCRP)" \
  grep -q 'CTRL_MSGTYPE=SCCRP' "$LAB_DIR/lan-capture.log"
check "scenario 4: pptpd accepted the outgoing call (OCRP; client sent ${sent:-0} PPP frames)" \
  grep -q 'CTRL_MSGTYPE=OCRP' "$LAB_DIR/lan-capture.log"
check "scenario 4: GRE from the client reached the LAN server" \
  grep -q '203.0.113.10 > 192.0.2.10: GRE' "$LAB_DIR/lan-capture.log"
check "scenario 4: GRE from the server came back to the client (${received:-0} PPP frames)" \
  test "${received:-0}" -gt 0
check "scenario 4: conntrack holds the GRE call expected by the helper" \
  grep -qE '^gre .*src=203\.0\.113\.10 dst=203\.0\.113\.1 .*src=192\.0\.2\.10' "$LAB_DIR/conntrack.txt"
check "scenario 4: the gateway sent no ICMP protocol-unreachable (GRE was not dropped at the gateway)" \
  not grep -q 'protocol .* unreachable\|ICMP .* unreachable' "$LAB_DIR/icmp-watch.log"

# A bounded burst: 40 SYNs in about 40 ms from the second WAN client. Its limiter lets the burst of
# 10 (and at most a token or two more) through; the rest is dropped and counted.
ns_exec "$LAB_NS_WAN2" timeout 10 hping3 -q -S -p 1723 -c 40 -i u1000 "$LAB_WAN_GW" >/dev/null 2>&1
limited=$(ns_exec "$GW" nft list counter inet portcullis flood_pptp_pptp_new | grep -o 'packets [0-9]*' | cut -d' ' -f2)
check "issue 5: SYNs to 1723 over one source's limit are dropped and counted (${limited:-0} of 40)" \
  test "${limited:-0}" -ge 25
call2=$(pptp_call "$WAN" "$LAB_WAN_GW" 3)
received2=$(sed -n 's/.*frames_received=\([0-9]*\).*/\1/p' <<<"$call2")
check "issue 5: the real client still places a PPTP call after the other source's burst (${received2:-0} frames back)" \
  test "${received2:-0}" -gt 0

lab_finish
