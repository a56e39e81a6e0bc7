#!/usr/bin/python3
"""Prometheus metrics (issue 13 items 1 and 8; docs/operations.md "Metrics").

A live gateway is scraped over real HTTP (http.client) during and after
calls from python3-aiortc (the browser): one answered by baresip, one that
SIPp answers 486 Busy Here, one that SIPp refuses 503. Every scrape must
pass `promtool check metrics` (Debian package prometheus), and the figures
must match what the test did: three attempts, one outcome each in 2xx, 4xx
and 5xx, one live pass-through call during the answered call, the RTP
packets aiortc reports it sent and received against the gateway's WebRTC
leg counters, the SIP leg's packets both ways, one login, the set-up time
and per-call quality histograms. [websocket] metrics_allow is checked
from a second loopback address: 403 outside it, 200 inside."""

import asyncio
import os
import re
import subprocess

from aiortc import RTCSessionDescription
from aiortc_peer import offering_pc
from peers import Baresip, tones
from tandem_harness import Gateway, tap_main
from test_call_aiortc import connect, counters_zero, offer_pcmu
from test_health import get
from test_sip_calls import sipp_ok, sipp_uas

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')


def parse(body):
    """{(name, labels): value} with labels a sorted tuple of (key, value)."""
    out = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def fetch(gw, source=None):
    status, headers, body = get(gw, "/metrics", source=source)
    assert status == 200, (status, body[:200])
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    return body


def scrape(gw, source=None):
    """The /metrics samples, once promtool has passed the text."""
    body = fetch(gw, source)
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       timeout=30)
    assert p.returncode == 0, ("promtool check metrics", p.stdout, p.stderr)
    return parse(body)


def v(s, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in s, "no sample %s%s" % (name, labels)
    return s[key]


def bracket(before, peer, after, what, slack=5):
    """The peer's count, taken between two scrapes, lies between the gateway's
    counts in them, give or take the packets in flight or in the peer's queue."""
    assert before - slack <= peer <= after + slack, \
        "%s: the peer counted %d, the gateway %d before and %d after" % (
            what, peer, before, after)


async def measure(gw, pc):
    """(scrape, (RTP packets aiortc sent, received), scrape). The HTTP
    requests run on a thread: aiortc's loop must go on reading its socket,
    or its counts fall behind what already arrived."""
    s1 = parse(await asyncio.to_thread(fetch, gw))
    stats = (await pc.getStats()).values()
    s2 = parse(await asyncio.to_thread(fetch, gw))
    return s1, ([x for x in stats if x.type == "outbound-rtp"][0].packetsSent,
                [x for x in stats if x.type == "inbound-rtp"][0].packetsReceived), s2


async def answered_call(gw, c, b):
    """aiortc -> gateway -> baresip, checked while up; returns the figures
    aiortc gave for its RTP."""
    pc, rec = await offering_pc("PCMU", record=True)
    r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(r["call"], "answered")
    assert st["code"] == 200, st
    b.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(3.5)
    s = await asyncio.to_thread(scrape, gw)
    assert v(s, "tandem_calls_active", direction="out", mode="passthrough") == 1
    assert v(s, "tandem_calls_active", direction="in", mode="passthrough") == 0
    assert v(s, "tandem_calls_active", direction="out", mode="transcoded") == 0
    # the gateway's counts, the peer's own, the gateway's again, twice,
    # 2 s apart. aiortc drops what arrives before its receiver runs, so
    # toward it the counts are compared over the interval between the two
    a = await measure(gw, pc)
    await asyncio.sleep(2)
    s1, (sent, got), s2 = b_ = await measure(gw, pc)
    assert sent > 100 and got > 100, (sent, got)
    rx = dict(leg="webrtc", direction="rx")
    bracket(v(s1, "tandem_media_packets_total", **rx), sent,
            v(s2, "tandem_media_packets_total", **rx), "RTP from aiortc")
    # PCMU at 20 ms: 12 + 160 bytes a packet
    bracket(v(s1, "tandem_media_bytes_total", **rx), sent * 172,
            v(s2, "tandem_media_bytes_total", **rx), "RTP bytes from aiortc", slack=5 * 172)
    for i, d in ((0, "rx"), (1, "tx")):
        n = "tandem_media_packets_total"
        key = dict(leg="webrtc", direction=d)
        bracket(v(b_[0], n, **key) - v(a[2], n, **key), b_[1][i] - a[1][i],
                v(b_[2], n, **key) - v(a[0], n, **key), "RTP %s over 2 s" % d)
    # what came in on one leg left on the other (but for drops before the
    # SIP side's answer)
    sip_tx = v(s2, "tandem_media_packets_total", leg="sip", direction="tx")
    assert sent - 30 <= sip_tx <= v(s2, "tandem_media_packets_total", leg="webrtc",
                                    direction="rx"), (sent, sip_tx)
    assert v(s2, "tandem_media_packets_total", leg="sip", direction="rx") >= \
        v(s2, "tandem_media_packets_total", leg="webrtc", direction="tx")
    await c.call("hangup", {"call": r["call"]})
    await c.wait_state(r["call"], "ended")
    b.wait_event("CALL_CLOSED")
    rec.stop()
    await pc.close()


async def refused_call(c, scenario, code):
    uas, port, cwd = sipp_uas(scenario)   # returns once SIPp's socket is bound
    pc, call = await offer_pcmu(c, "sip:x@127.0.0.1:%d" % port)
    st = await c.wait_state(call, "ended")
    assert st["code"] == code, st
    await pc.close()
    sipp_ok(uas, cwd)


async def test_scrape_matches_calls():
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav")).start()
    try:
        with Gateway() as gw:
            s = scrape(gw)
            assert v(s, "tandem_call_attempts_total", direction="out") == 0
            info = [k for k in s if k[0] == "tandem_build_info"]
            assert len(info) == 1 and s[info[0]] == 1 and info[0][1][0][0] == "version", info
            c = await connect(gw)
            await answered_call(gw, c, b)
            await refused_call(c, "uas_busy.xml", 486)
            await refused_call(c, "uas_503.xml", 503)
            await counters_zero(c)
            s = scrape(gw)
            await c.close()
    finally:
        b.stop()
    assert v(s, "tandem_call_attempts_total", direction="out") == 3
    assert v(s, "tandem_call_attempts_total", direction="in") == 0
    want = {"2xx": 1, "4xx": 1, "5xx": 1, "3xx": 0, "6xx": 0, "none": 0}
    for cls, n in want.items():
        assert v(s, "tandem_call_outcomes_total", direction="out", status_class=cls) == n, cls
    assert v(s, "tandem_calls_active", direction="out", mode="passthrough") == 0
    assert v(s, "tandem_call_setup_seconds_count", direction="out") == 1
    assert 0 < v(s, "tandem_call_setup_seconds_sum", direction="out") < 10
    assert v(s, "tandem_logins_total", result="ok") == 1
    assert v(s, "tandem_logins_total", result="failed") == 0
    assert v(s, "tandem_websocket_connections_total") >= 1
    assert v(s, "tandem_sip_registrations") == 0
    # quality of the answered call's media (loopback: no loss, MOS near the
    # G.711 ceiling of the E-model, 4.4)
    for leg in ("webrtc", "sip"):
        n = v(s, "tandem_call_loss_ratio_count", leg=leg)
        assert n >= 1, leg
        assert v(s, "tandem_call_loss_ratio_bucket", leg=leg, le="0.01") == n, leg
        mos = v(s, "tandem_call_mos_sum", leg=leg) / v(s, "tandem_call_mos_count", leg=leg)
        assert 4.0 <= mos <= 4.5, (leg, mos)
        assert v(s, "tandem_call_jitter_seconds_count", leg=leg) >= 1
    assert any(k[0] == "tandem_media_worker_load_ratio" for k in s)


async def test_metrics_allow():
    with Gateway(extra="[websocket]\nmetrics_allow = 127.0.0.2\n") as gw:
        status, _, body = get(gw, "/metrics")
        assert status == 403, (status, body)
        assert b"metrics_allow" in body, body
        s = scrape(gw, source="127.0.0.2")
        assert v(s, "tandem_websocket_refused_total") == 1
        # its own list: the probes' list still lets 127.0.0.1 in
        assert get(gw, "/healthz")[0] == 200
        status, headers, body = get(gw, "/metrics", method="HEAD", source="127.0.0.2")
        assert status == 200 and body == b"" and int(headers["content-length"]) > 1000
    with Gateway(extra="[websocket]\nmetrics_allow =\n") as gw:
        assert get(gw, "/metrics")[0] == 403


if __name__ == "__main__":
    tap_main([test_scrape_matches_calls, test_metrics_allow])
