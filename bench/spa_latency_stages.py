#!/usr/bin/env python3
"""Where the SPA latency goes, per stage, from a kept bench/spa_latency.sh run.

Run the bench with KEEP=1 SPA_TRACE=1 (the daemon then prints one `spa-trace` line per packet with
CLOCK_MONOTONIC stage times; the probe prints its trigger time beside each latency), then:
    python3 bench/spa_latency_stages.py /tmp/pc-spab.XXXXXX
Stages (microseconds): wake = probe sends the SPA packet -> daemon has it (kernel path, NFLOG,
wake-up); verify = HMAC, decrypt, checks, replay cache; request = grant queued; flush = the netlink
batch sent and acknowledged; after_flush = grant in the kernel -> the probe's first connect done;
save = what the daemon does after the grant (event line, replay cache to the state writer).
"""
import sys

work = sys.argv[1]
probe = [line.split() for line in open(work + "/portcullis-spa.txt")]
traces = [line.split() for line in open(work + "/daemon.log") if line.startswith("spa-trace")]
if len(probe) != len(traces):
    sys.exit(f"{len(probe)} probe lines but {len(traces)} trace lines")
rows = []
for (latency, start), trace in zip(probe, traces):
    sent = int(start)
    received, verified, requested, flushed, finished = (int(trace[i]) for i in (2, 4, 6, 8, 10))
    rows.append((float(latency), (received - sent) / 1e3, (verified - received) / 1e3,
                 (requested - verified) / 1e3, (flushed - requested) / 1e3,
                 float(latency) - (flushed - sent) / 1e3, (finished - flushed) / 1e3))
for column, name in enumerate(["total", "wake", "verify", "request", "flush", "after_flush", "save"]):
    values = sorted(row[column] for row in rows)
    pick = lambda q: values[min(len(values) - 1, int(len(values) * q))]
    print(f"{name:12s} p50 {pick(0.5):9.1f}  p90 {pick(0.9):9.1f}  p99 {pick(0.99):9.1f}  max {values[-1]:9.1f}")
