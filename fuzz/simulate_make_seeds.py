#!/usr/bin/env python3
"""Seeds for simulate_capture_fuzz, from the BSD-licensed shared captures (tcpdump/ and
zeek-spicy-ipsec/, licence files copied along as dot-files, which the replayer skips) and the
project's own lab fixtures (tests/fixtures/diagnose/). Each seed: a selector byte (policy and
options, see the target) then frames as [link selector][length BE16][time step][frame].
usage: fuzz/simulate_make_seeds.py [SHARED_ROOT]"""
import glob, hashlib, os, shutil, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '..', '..', 'shared')
out_dir = os.path.join(here, 'seeds', 'simulate_capture')
LINK_SELECTOR = {1: 0, 101: 1, 113: 2, 276: 3}
MAX_FILE = 16384


def pcap_frames(path):
    data = open(path, 'rb').read()
    if len(data) < 24:
        return None, []
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        endian = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        endian = '>'
    else:
        return None, []
    link = struct.unpack(endian + 'I', data[20:24])[0]
    frames, offset = [], 24
    while offset + 16 <= len(data):
        seconds, _, caplen = struct.unpack(endian + 'III', data[offset:offset + 12])
        frames.append((seconds, data[offset + 16:offset + 16 + caplen]))
        offset += 16 + caplen
    return link, frames


def framed(link, frames, selector):
    out, previous = bytearray([selector]), None
    for seconds, frame in frames[:48]:
        step = 0 if previous is None else max(0, min(255, (seconds - previous) * 2))
        previous = seconds
        out += bytes([LINK_SELECTOR[link]]) + struct.pack('>H', len(frame)) + bytes([step]) + frame
    return bytes(out)


def save(content):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, hashlib.sha1(content).hexdigest()[:16]), 'wb') as f:
        f.write(content)


paths = []
for folder in ('tcpdump', 'zeek-spicy-ipsec'):
    for path in sorted(glob.glob(os.path.join(shared, 'captures', folder, '*'))):
        if os.path.basename(path).startswith('LICENSE'):
            os.makedirs(out_dir, exist_ok=True)
            shutil.copy(path, os.path.join(out_dir, '.%s-%s' % (os.path.basename(path), folder)))
            continue
        paths.append(path)
paths += sorted(glob.glob(os.path.join(here, '..', 'tests', 'fixtures', 'diagnose', '*.pcap')))
for index, path in enumerate(paths):
    link, frames = pcap_frames(path)
    if link not in LINK_SELECTOR or not frames:
        continue
    # Alternate the gateway / host policy and the --explain / --iif options across seeds.
    for selector in (index % 16, (index + 9) % 16):
        seed = framed(link, frames, selector)
        if len(seed) <= MAX_FILE:
            save(seed)
