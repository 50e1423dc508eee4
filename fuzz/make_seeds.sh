#!/usr/bin/env bash
# Regenerates fuzz/seeds/<target>/ from the shared captures: each seed is one protocol unit in the
# format its fuzz target expects (see the comment at the top of each *_fuzz.cpp). Only the
# BSD-licensed captures (tcpdump/, zeek-spicy-ipsec/) are used, seeds are capped in size and count,
# and named by content hash so reruns are stable.
#   usage: fuzz/make_seeds.sh [SHARED_ROOT]   (default: ../shared next to the checkout)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${1:-$here/../../shared}
captures=("$shared"/captures/tcpdump/*.pcap "$shared"/captures/zeek-spicy-ipsec/*.pcap
          "$shared"/captures/zeek-spicy-ipsec/*.cap)
out=$here/seeds
max_size=2048
max_seeds=40
per_capture=5
declare -A taken   # "target capture" -> seeds taken from that capture
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# save TARGET SELECTOR_HEX PAYLOAD_HEX: writes selector+payload as one seed, deduplicated by hash.
save() {
    local target=$1 selector=$2 payload=$3
    [[ -z $payload ]] && return 0
    (( ${#payload} / 2 > max_size )) && return 0
    mkdir -p "$out/$target"
    (( $(find "$out/$target" -type f | wc -l) >= max_seeds )) && return 0
    (( ${taken["$target $current"]:-0} >= per_capture )) && return 0
    printf '%s%s' "$selector" "$payload" | xxd -r -p > "$work/seed"
    local name
    name=$(sha1sum < "$work/seed" | cut -c1-16)
    [[ -e $out/$target/$name ]] && return 0
    mv "$work/seed" "$out/$target/$name"
    taken["$target $current"]=$(( ${taken["$target $current"]:-0} + 1 ))
}

fields() {  # fields CAPTURE FILTER FIELD...
    local capture=$1 filter=$2
    shift 2
    local args=()
    for f in "$@"; do args+=(-e "$f"); done
    tshark -n -o ip.defragment:FALSE -o tcp.desegment_tcp_streams:FALSE \
        -o tcp.analyze_sequence_numbers:FALSE -r "$capture" -Y "$filter" -T fields \
        -E occurrence=f "${args[@]}" 2>/dev/null || true
}

link_selector() {  # selector byte for dissect_link/dissect_packet targets
    case $1 in
        1) echo "01 00" ;;    # ethernet: link index 1, packet index 0
        0) echo "00 05" ;;
        239) echo "08 04" ;;
        101) echo "04 01" ;;
        *) echo "" ;;
    esac
}

rm -rf "$out"/dissect_*   # other stages keep their own seeds here
for capture in "${captures[@]}"; do
    [[ -f $capture ]] || continue
    current=$(basename "$capture")
    # VPN payloads straight from tshark
    while read -r payload; do save dissect_ike "" "$payload"; done \
        < <(fields "$capture" "udp.port==500 && !icmp" udp.payload)
    while read -r payload; do
        save dissect_esp "01" "$payload"
        [[ $payload == 00000000* ]] && save dissect_ike "" "${payload:8}"
    done < <(fields "$capture" "udp.port==4500 && !icmp" udp.payload)
    while read -r payload; do save dissect_l2tp "" "$payload"; done \
        < <(fields "$capture" "udp.port==1701 && !icmp" udp.payload)
    while read -r payload; do save dissect_pptp "" "$payload"; done \
        < <(fields "$capture" "tcp.port==1723 && tcp.len>0" tcp.payload)

    # Frame-level seeds: split into one-frame pcap files (24-byte file + 16-byte record header).
    encap=$(capinfos -E -T "$capture" 2>/dev/null | tail -1 | cut -f2)
    case $encap in
        ether) dlt=1 ;; null) dlt=0 ;; nflog) dlt=239 ;; rawip) dlt=101 ;; *) dlt=-1 ;;
    esac
    (( dlt < 0 )) && continue
    read -r link_index packet_index <<< "$(link_selector "$dlt")"
    rm -f "$work"/frame*
    editcap -F pcap -c 1 "$capture" "$work/frame.pcap" >/dev/null 2>&1 || continue
    for frame_file in "$work"/frame*.pcap; do
        hex=$(tail -c +41 "$frame_file" | xxd -p | tr -d '\n')
        save dissect_link "$link_index" "$hex"
        save dissect_packet "$packet_index" "$hex"
        [[ $dlt == 1 ]] || continue
        ethertype=${hex:24:4}
        [[ $ethertype == 0800 || $ethertype == 86dd ]] || continue
        ip=${hex:28}
        save dissect_ip "" "$ip"
        [[ $ethertype == 0800 ]] || continue
        ihl=$(( 0x${ip:1:1} * 8 ))   # header length in hex digits
        protocol=${ip:18:2}
        transport=${ip:$ihl}
        case $protocol in
            11) save dissect_transport "00" "$transport" ;;
            06) save dissect_transport "01" "$transport" ;;
            01) save dissect_transport "02" "$transport" ;;
            2f) save dissect_gre "" "$transport" ;;
            32) save dissect_esp "00" "$transport" ;;
        esac
    done
done

current=handmade
# The BSD captures hold no OpenVPN/WireGuard: hand-made seeds in the recogniser input format.
save dissect_recognisers "00" "38$(printf '%016x' 81985529216486895)0000000000"
save dissect_recognisers "01" "000e38$(printf '%016x' 81985529216486895)0000000000"
save dissect_recognisers "02" "01000000$(printf '%0288x' 0)"
save dissect_recognisers "02" "04000000$(printf '%056x' 5)"
# Well-formed L2TP control messages (the only L2TP capture is malformed).
save dissect_l2tp "" "c80200140000000000000000800800000000000180080000000200010000"
save dissect_l2tp "" "c802001a002a000000030002800800000000000480080000000100020006"

for dir in "$out"/dissect_*/; do
    printf '%-24s %3d seeds\n' "$(basename "$dir")" "$(find "$dir" -type f | wc -l)"
done
