#!/usr/bin/env python3
"""Seeds for the diagnose fuzz targets, from the BSD-licensed shared captures (tcpdump/ and
zeek-spicy-ipsec/; their licence files are copied along as dot-files, which the replayer skips).
  capture_reader/   small capture files as they are
  diagnose_session/ the same captures' first frames in diagnose_session_fuzz's framing
usage: fuzz/diagnose_make_seeds.py [SHARED_ROOT]"""
import glob, hashlib, os, shutil, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '..', '..', 'shared')
captures = os.path.join(shared, 'captures')
LINK_SELECTOR = {1: 0, 101: 1, 0: 2, 113: 3}
MAX_FILE = 16384


def pcap_frames(path):
    """Frames of a classic pcap file (pcapng files are skipped for the framed seeds)."""
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
        caplen = struct.unpack(endian + 'I', data[offset + 8:offset + 12])[0]
        frames.append(data[offset + 16:offset + 16 + caplen])
        offset += 16 + caplen
    return link, frames


def save(directory, content):
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(content).hexdigest()[:16]
    with open(os.path.join(directory, name), 'wb') as out:
        out.write(content)


for folder in ('tcpdump', 'zeek-spicy-ipsec'):
    for path in sorted(glob.glob(os.path.join(captures, folder, '*'))):
        if os.path.basename(path).startswith('LICENSE'):
            for target in ('capture_reader', 'diagnose_session'):
                os.makedirs(os.path.join(here, 'seeds', target), exist_ok=True)
                shutil.copy(path, os.path.join(here, 'seeds', target, '.%s-%s' % (os.path.basename(path), folder)))
            continue
        if os.path.getsize(path) <= MAX_FILE:
            save(os.path.join(here, 'seeds', 'capture_reader'), open(path, 'rb').read())
        link, frames = pcap_frames(path)
        if link not in LINK_SELECTOR or not frames:
            continue
        framed = b''.join(bytes([LINK_SELECTOR[link]]) + struct.pack('>H', len(f)) + f for f in frames[:48])
        if len(framed) <= MAX_FILE:
            save(os.path.join(here, 'seeds', 'diagnose_session'), framed)
