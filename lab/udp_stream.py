#!/usr/bin/python3
"""Sequence-numbered UDP stream for the atomic-apply lab test.

recv PORT SECONDS STREAMS
    Count datagrams "SEQ <stream> <n>" per stream until STREAMS streams have sent
    "END <stream> <count>" (or SECONDS pass). Prints one line per stream: "stream=<s> sent=<count> received=<unique>
    missing=<count-unique> duplicates=<d>" and exits 0 when nothing is missing.

send HOST PORT COUNT INTERVAL_MS MODE
    Send COUNT datagrams, one every INTERVAL_MS (COUNT 0: until SIGTERM/SIGINT, then finish
    cleanly with the END marker). MODE "steady": one socket, one flow (an
    established conntrack entry the whole time). MODE "fresh": a new socket (new source port, so a
    new conntrack entry that must pass DNAT and the forward filter) for every datagram.
"""
import signal
import socket
import sys
import time

stop_requested = False


def request_stop(_signum, _frame):
    global stop_requested
    stop_requested = True


def recv(port, seconds, streams):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("::", port))
    sock.settimeout(0.2)
    seen = {}
    dups = {}
    ends = {}
    deadline = time.monotonic() + seconds
    print("listening", flush=True)
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            if len(ends) >= streams:
                break
            continue
        fields = data.decode(errors="replace").split()
        if len(fields) == 3 and fields[0] == "SEQ":
            stream, n = fields[1], int(fields[2])
            got = seen.setdefault(stream, set())
            if n in got:
                dups[stream] = dups.get(stream, 0) + 1
            got.add(n)
        elif len(fields) == 3 and fields[0] == "END":
            ends[fields[1]] = int(fields[2])
            seen.setdefault(fields[1], set())
    ok = len(ends) >= streams
    for stream in sorted(set(seen) | set(ends)):
        sent = ends.get(stream)
        got = seen.get(stream, set())
        missing = (sent - len([n for n in got if n < sent])) if sent is not None else "unknown"
        if sent is None or missing != 0:
            ok = False
        gaps = sorted(set(range(sent)) - got)[:10] if sent is not None else []
        print(f"stream={stream} sent={sent} received={len(got)} missing={missing} "
              f"duplicates={dups.get(stream, 0)} first_missing={gaps}", flush=True)
    sys.exit(0 if ok else 1)


def send(host, port, count, interval_ms, mode):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    steady = socket.socket(family, socket.SOCK_DGRAM)
    interval = interval_ms / 1000.0
    start = time.monotonic()
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    n = 0
    while (count == 0 or n < count) and not stop_requested:
        payload = f"SEQ {mode} {n}".encode()
        if mode == "steady":
            steady.sendto(payload, (host, port))
        else:
            with socket.socket(family, socket.SOCK_DGRAM) as fresh:
                fresh.sendto(payload, (host, port))
        # Pace against the start time so a slow iteration does not stretch the whole run.
        n += 1
        pause = start + n * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    time.sleep(0.3)
    for _ in range(5):
        steady.sendto(f"END {mode} {n}".encode(), (host, port))
        time.sleep(0.05)
    print(f"sent {n} datagrams ({mode}) in {time.monotonic() - start:.1f} s", flush=True)


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "recv":
        recv(int(args[1]), float(args[2]), int(args[3]))
    elif len(args) == 6 and args[0] == "send" and args[5] in ("steady", "fresh"):
        send(args[1], int(args[2]), int(args[3]), float(args[4]), args[5])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
