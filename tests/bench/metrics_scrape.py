#!/usr/bin/python3
"""Scrapes a gateway's /metrics once a second until killed (SIGTERM) or
`seconds` pass (at least one scrape), and prints one line per scrape: wall latency of the whole
HTTP exchange in ms, the bytes of the answer, and the live calls it
reported (the sum of tandem_calls_active), and the gateway's own time to
write the answer (tandem_metrics_render_seconds). Used by run-metrics-bench.sh.

Usage: metrics_scrape.py PORT [SECONDS] [INTERVAL]"""

import http.client
import signal
import sys
import time


def scrape(port):
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t0) * 1000
    c.close()
    if r.status != 200:
        raise RuntimeError("status %d" % r.status)
    calls, render = 0, 0.0
    for line in body.decode().splitlines():
        if line.startswith("tandem_calls_active{"):
            calls += int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("tandem_metrics_render_seconds "):
            render = float(line.split()[1]) * 1000
    return ms, len(body), calls, render


def main():
    port = int(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1e9
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    end = time.monotonic() + seconds
    nxt = time.monotonic()
    ok = False
    while True:
        try:
            ms, n, calls, render = scrape(port)
            print("SCRAPE ms=%.2f bytes=%d calls=%d render_ms=%.3f" % (ms, n, calls, render),
                  flush=True)
            ok = True
        except (OSError, RuntimeError) as e:
            print("SCRAPE error=%s" % str(e).replace(" ", "_"), flush=True)
            ok = False
        nxt += interval
        if nxt >= end:
            break
        time.sleep(max(0, nxt - time.monotonic()))
    # the exit status says whether the last scrape worked (a readiness probe)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
