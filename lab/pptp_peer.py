#!/usr/bin/python3
"""Stand-in PPP peer for the PPTP lab (this kernel has no PPP, so pppd cannot run).

server (default)  pptpd runs this instead of pppd on the call's pty (config line `ppp PATH`):
                  it writes LCP Configure-Requests so the server side emits GRE, and logs what
                  arrives from the client to $PPTP_PEER_LOG.
client HOST SECS  runs `pptp HOST --nolaunchpppd` with a socket as its PPP channel, writes LCP
                  Configure-Requests into it (pptp sends them as enhanced GRE) and counts the PPP
                  frames that come back from the server over GRE. Prints one summary line:
                  "frames_sent=N frames_received=M".
"""
import os
import select
import socket
import subprocess
import sys
import time

# LCP (protocol 0xC021) Configure-Request, identifier 1, one option: magic number 0x12345678.
LCP_CONFREQ = bytes([0xC0, 0x21, 0x01, 0x01, 0x00, 0x0A, 0x05, 0x06, 0x12, 0x34, 0x56, 0x78])


def fcs16(data):
    """PPP frame check sequence (RFC 1662 section C.2)."""
    fcs = 0xFFFF
    for byte in data:
        fcs ^= byte
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs ^ 0xFFFF


def hdlc_frame(payload):
    """Async-HDLC framing as pppd writes it to a pty (RFC 1662): flag, escaped body, flag."""
    body = bytes([0xFF, 0x03]) + payload
    fcs = fcs16(body)
    body += bytes([fcs & 0xFF, fcs >> 8])
    out = bytearray([0x7E])
    for byte in body:
        if byte < 0x20 or byte in (0x7E, 0x7D):
            out += bytes([0x7D, byte ^ 0x20])
        else:
            out.append(byte)
    out.append(0x7E)
    return bytes(out)


def count_frames(data):
    """Number of complete frames (runs of bytes between 0x7E flags) in data."""
    return sum(1 for chunk in data.split(b"\x7e") if chunk)


def run_server():
    # pptpd may clear the environment; the lab bind-mounts a private dir on /run for pptpd.
    log_path = os.environ.get("PPTP_PEER_LOG", "/run/pptp-peer.log")
    with open(log_path, "ab", buffering=0) as log:
        received = 0
        for _ in range(40):
            os.write(1, hdlc_frame(LCP_CONFREQ))
            ready, _, _ = select.select([0], [], [], 0.25)
            if ready:
                data = os.read(0, 4096)
                if not data:
                    break
                received += count_frames(data)
                log.write(b"server: frames_received=%d\n" % received)


def run_client(host, seconds):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    # pptp reads and writes PPP on the same descriptor pair; give it one socket end for both.
    proc = subprocess.Popen(["pptp", host, "--nolaunchpppd", "--debug", "--loglevel", "2"],
                            stdin=theirs, stdout=theirs, start_new_session=True)
    theirs.close()
    sent = received = 0
    deadline = time.monotonic() + seconds
    # Give the control connection (SCCRQ/SCCRP, OCRQ/OCRP) time before PPP data.
    time.sleep(1.0)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ours.sendall(hdlc_frame(LCP_CONFREQ))
                sent += 1
            except OSError:
                break
            ready, _, _ = select.select([ours], [], [], 0.2)
            if ready:
                data = ours.recv(65536)
                if not data:
                    break
                received += count_frames(data)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"frames_sent={sent} frames_received={received}", flush=True)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "client":
        if len(sys.argv) != 4:
            sys.stderr.write(__doc__)
            sys.exit(2)
        run_client(sys.argv[2], float(sys.argv[3]))
    else:
        # pptpd passes pppd-style arguments we do not need.
        run_server()


if __name__ == "__main__":
    main()
