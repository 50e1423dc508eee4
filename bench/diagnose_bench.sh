#!/usr/bin/env bash
# Throughput of `portcullis diagnose` against `tshark -r` on the same large capture, in one run.
# Builds a capture of at least SIZE_MB (default 1024) by repeating the Ethernet captures in
# ../shared/captures, then times both tools with /usr/bin/time -v (wall time, peak RSS). A second,
# 10x smaller file shows whether diagnose's memory stays flat as the capture grows. `cat FILE`
# (to /dev/null) gives the floor: the CPU any reader spends just getting the bytes out of the page
# cache, hence the best ratio to tshark any tool could reach on this machine.
#   usage: bench/diagnose_bench.sh PORTCULLIS_BINARY [SIZE_MB] [WORK_DIR]
# Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:?path to a Release build of portcullis}
size_mb=${2:-1024}
work=${3:-$(mktemp -d /tmp/pc-diag-bench.XXXXXX)}
shared=${PC_SHARED_ROOT:-$here/../../shared}
mkdir -p "$work"

make_capture() {  # make_capture OUT SIZE_MB -> prints the frame count
    python3 - "$1" "$2" "$shared/captures" <<'PY'
import struct, sys
out, size_mb, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sources = ["ndpi/ipsec_isakmp_esp.pcap", "zeek-spicy-ipsec/ipsec.cap", "zeek-spicy-ipsec/ipsec_client.pcap",
           "ndpi/pptp.pcap", "tcpdump/isakmp4500.pcap", "tcpdump/pptp.pcap", "tcpdump/ISAKMP_sa_setup.pcap",
           "zeek-spicy-ipsec/ipsec-ikev1-isakmp-main-mode.pcap"]
blob, frames = bytearray(), 0
for name in sources:
    data = open(f"{root}/{name}", "rb").read()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    assert struct.unpack(endian + "I", data[20:24])[0] == 1, name  # Ethernet only
    offset = 24
    while offset + 16 <= len(data):
        sec, usec, caplen, length = struct.unpack(endian + "IIII", data[offset:offset + 16])
        blob += struct.pack("<IIII", sec, usec, caplen, length) + data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen
        frames += 1
target = size_mb * 1024 * 1024
total = 0
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    written = 24
    while written < target:
        f.write(blob)
        written += len(blob)
        total += frames
print(total)
PY
}

measure() {  # measure LABEL COMMAND... -> "wall_seconds cpu_seconds rss_kb"
    local label=$1
    shift
    /usr/bin/time -v "$@" > /dev/null 2> "$work/$label.time" || true
    local wall rss user sys
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/$label.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$label.time")
    user=$(awk -F': ' '/User time/ {print $2}' "$work/$label.time")
    sys=$(awk -F': ' '/System time/ {print $2}' "$work/$label.time")
    # h:mm:ss or m:ss.cc -> seconds
    echo "$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')" \
         "$(echo "$user $sys" | awk '{print $1 + $2}')" "$rss"
}

big=$work/big.pcap
small=$work/small.pcap
frames_big=$(make_capture "$big" "$size_mb")
frames_small=$(make_capture "$small" $(( size_mb / 10 )))
bytes_big=$(stat -c %s "$big")

read -r t_small c_small rss_small < <(measure diagnose-small "$binary" diagnose "$small")
read -r t_diag c_diag rss_diag < <(measure diagnose "$binary" diagnose "$big")
read -r t_tshark c_tshark rss_tshark < <(measure tshark tshark -r "$big")
read -r t_cat c_cat rss_cat < <(measure cat cat "$big")

python3 - "$frames_big" "$bytes_big" "$t_diag" "$c_diag" "$rss_diag" "$t_tshark" "$c_tshark" "$rss_tshark" \
    "$frames_small" "$c_small" "$rss_small" "$c_cat" <<'PY'
import sys
(frames, size, t_diag, c_diag, rss_diag, t_tshark, c_tshark, rss_tshark,
 frames_small, c_small, rss_small, c_cat) = sys.argv[1:]
c_cat = float(c_cat)
frames, size, frames_small = int(frames), int(size), int(frames_small)
t_diag, c_diag, t_tshark, c_tshark, c_small = map(float, (t_diag, c_diag, t_tshark, c_tshark, c_small))
mib = lambda kb: int(kb) / 1024
print("| capture | frames | tool | wall | CPU (user+sys) | Mpps per CPU-second | peak RSS |")
print("|---|---|---|---|---|---|---|")
print(f"| {size / 2**30:.2f} GiB | {frames:,} | portcullis diagnose | {t_diag:.2f} s | {c_diag:.2f} s | "
      f"{frames / c_diag / 1e6:.2f} | {mib(rss_diag):.1f} MiB |")
print(f"| {size / 2**30:.2f} GiB | {frames:,} | tshark -r | {t_tshark:.2f} s | {c_tshark:.2f} s | "
      f"{frames / c_tshark / 1e6:.3f} | {mib(rss_tshark):.0f} MiB |")
print(f"| {size / 10 / 2**30:.2f} GiB | {frames_small:,} | portcullis diagnose | | {c_small:.2f} s | "
      f"{frames_small / c_small / 1e6:.2f} | {mib(rss_small):.1f} MiB |")
print()
print(f"ratio tshark/diagnose: wall {t_tshark / t_diag:.0f}x, CPU {c_tshark / c_diag:.0f}x")
print(f"floor: cat FILE > /dev/null takes {c_cat:.2f} s CPU, so no reader can beat "
      f"{c_tshark / max(c_cat, 0.01):.0f}x tshark here; diagnose spends {c_diag - c_cat:.2f} s beyond it "
      f"({frames / max(c_diag - c_cat, 0.01) / 1e6:.1f} M frames per CPU-second of its own work)")
PY
echo "(work files in $work; remove with rm -rf $work)"
