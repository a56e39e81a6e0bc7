#!/usr/bin/python3
"""Health probes and the graceful drain (issue 13 item 4; docs/operations.md).

A real HTTP client (http.client) asks the WebSocket port for /healthz and
/readyz. Then, with a call up (aiortc browser -> gateway -> SIPp phone that
answers), SIGUSR1 starts a drain: /readyz turns 503 "draining", a new `call`
gets 503, an INVITE gets 503 with Retry-After, /healthz stays 200 and the
call carries on; hanging it up makes the gateway exit 0 at once. With
[calls] drain_timeout = 2 and a call that stays up, the gateway ends the
call itself (the browser sees `ended`, SIPp our BYE) and exits 0 after
about 2 s. SIGTERM during a drain still ends at once."""

import asyncio
import http.client
import signal
import subprocess
import time

from abuse import client, sipp_answerer
from aiortc import RTCSessionDescription
from aiortc_peer import offering_pc
from tandem_harness import Gateway, free_port, tap_main
from test_sip_calls import SDP, sip_request


def get(gw, path, method="GET", source=None):
    """(status, headers, body) of one plain HTTP request to the WebSocket port,
    from the loopback address `source` (127.0.0.0/8 is all ours)."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.ws_port, timeout=5,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def wait_exit(gw, timeout):
    """The gateway's exit status and the seconds it took to exit."""
    t0 = time.monotonic()
    try:
        rc = gw.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("gateway still running %.0f s after the drain should have "
                             "ended: %s" % (timeout, gw.read_log()[-1500:]))
    return rc, time.monotonic() - t0


async def answered_call(gw):
    """A call up end to end: (client, pc, call id, SIPp process)."""
    sipp_port = free_port(also_udp=True)
    uas = sipp_answerer(sipp_port)
    c = await client(gw)
    pc, _ = await offering_pc()
    r = await c.call("call", {"to": "sip:drain@127.0.0.1:%d" % sipp_port,
                              "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    await c.wait_state(r["call"], "answered", 15)
    deadline = time.monotonic() + 15
    while pc.connectionState != "connected":
        assert pc.connectionState not in ("failed", "closed"), pc.connectionState
        assert time.monotonic() < deadline, "ICE/DTLS not connected"
        await asyncio.sleep(0.05)
    return c, pc, r["call"], uas


def sipp_done(uas):
    try:
        out = uas.communicate(timeout=10)[0]
    except subprocess.TimeoutExpired:
        uas.kill()
        out = uas.communicate()[0]
    assert uas.returncode == 0, "SIPp did not see our BYE: " + \
        out.decode(errors="replace")[-800:]


def test_probes():
    with Gateway() as gw:
        st, h, body = get(gw, "/healthz")
        assert (st, body) == (200, b"ok\n"), (st, body)
        assert h["content-type"] == "text/plain" and h["cache-control"] == "no-store", h
        st, h, body = get(gw, "/readyz")
        assert (st, body) == (200, b"ready\n"), (st, body)
        st, h, body = get(gw, "/healthz", "HEAD")
        assert st == 200 and h["content-length"] == "3" and body == b"", (st, h, body)
        st, h, _ = get(gw, "/healthz", "POST")
        assert st == 405 and "HEAD" in h["allow"], (st, h)
        assert get(gw, "/metricz")[0] == 404   # /metrics: test_metrics.py
        # the WebSocket itself is as it was
        c = asyncio.run(_ping(gw))
        assert c == {}, c


async def _ping(gw):
    c = await client(gw, login=False)
    try:
        return await c.call("ping")
    finally:
        await c.close()


def test_allow_list():
    # 127.0.0.2 is loopback to the kernel but not in this list
    with Gateway("[websocket]\nhealth_allow = 127.0.0.1\n") as gw:
        assert get(gw, "/healthz", source="127.0.0.1")[0] == 200
        st, _, body = get(gw, "/readyz", source="127.0.0.2")
        assert st == 403 and b"health_allow" in body, (st, body)
        assert get(gw, "/healthz", source="127.0.0.2")[0] == 403
    with Gateway("[websocket]\nhealth_allow = *\n") as gw:
        assert get(gw, "/readyz", source="127.0.0.2")[0] == 200


async def _drain_after_last_call(gw):
    c, pc, call, uas = await answered_call(gw)
    try:
        assert get(gw, "/readyz")[0] == 200
        gw.signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while get(gw, "/readyz")[0] != 503:
            assert time.monotonic() < deadline, "/readyz still 200 after SIGUSR1"
            await asyncio.sleep(0.02)
        st, h, body = get(gw, "/readyz")
        assert (st, body) == (503, b"draining\n") and h["cache-control"] == "no-store"
        assert get(gw, "/healthz")[0] == 200      # alive, just not taking calls
        gw.signal(signal.SIGUSR1)                 # a second one changes nothing
        # a new call from the browser side
        pc2, _ = await offering_pc()
        m = await c.request("call", {"to": "sip:x@127.0.0.1:9", "sdp":
                                     pc2.localDescription.sdp})
        await pc2.close()
        assert m["error"]["code"] == 503 and "draining" in m["error"]["message"], m
        # a new call from the SIP side
        st, text = sip_request(gw.sip_port, "INVITE", body=SDP)
        assert st == 503, text
        assert "Retry-After:" in text or "\nRetry-After" in text, text
        # the call up carries on
        assert gw.proc.poll() is None
        stats = await c.call("stats")
        assert stats["calls"]["calls"] == 1, stats
        await asyncio.sleep(0.5)
        assert pc.connectionState == "connected"
        assert gw.proc.poll() is None, "gateway left with a call up"
        await c.call("hangup", {"call": call})
        await c.wait_state(call, "ended", 5)
        rc, took = wait_exit(gw, 5)
        print("# exit %d %.2f s after the last call ended" % (rc, took))
        assert rc == 0, rc
        assert took < 2.5, took
    finally:
        await pc.close()
        try:
            await c.close()
        except Exception:  # the gateway closed it first
            pass
    sipp_done(uas)
    log = gw.read_log()
    assert "draining: refusing new calls" in log and "drain finished" in log, log[-1500:]


def test_drain_after_last_call():
    with Gateway() as gw:
        asyncio.run(_drain_after_last_call(gw))


async def _drain_timeout(gw):
    c, pc, call, uas = await answered_call(gw)
    try:
        t0 = time.monotonic()
        gw.signal(signal.SIGUSR1)
        st = await c.wait_state(call, "ended", 6)
        ended = time.monotonic() - t0
        assert 1.5 < ended < 4, ended
        assert "shutting down" in (st.get("reason") or ""), st
        rc, _ = wait_exit(gw, 5)
        took = time.monotonic() - t0
        print("# drain_timeout 2: call ended %.2f s, exit %d %.2f s after SIGUSR1" %
              (ended, rc, took))
        assert rc == 0, rc
        assert took < 5, took
    finally:
        await pc.close()
        try:
            await c.close()
        except Exception:  # the gateway closed it first
            pass
    sipp_done(uas)
    assert "drain_timeout passed with 1 call" in gw.read_log()


def test_drain_timeout():
    with Gateway("[calls]\ndrain_timeout = 2\n") as gw:
        asyncio.run(_drain_timeout(gw))


async def _term_during_drain(gw):
    c, pc, call, uas = await answered_call(gw)
    try:
        gw.signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while get(gw, "/readyz")[0] != 503:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        t0 = time.monotonic()
        gw.signal(signal.SIGTERM)
        await c.wait_state(call, "ended", 5)
        rc, _ = wait_exit(gw, 5)
        assert rc == 0 and time.monotonic() - t0 < 3
    finally:
        await pc.close()
        try:
            await c.close()
        except Exception:  # the gateway closed it first
            pass
    sipp_done(uas)


def test_term_during_drain():
    with Gateway() as gw:
        asyncio.run(_term_during_drain(gw))


def test_drain_without_calls():
    with Gateway() as gw:
        gw.signal(signal.SIGUSR1)
        rc, took = wait_exit(gw, 5)
        assert rc == 0 and took < 2.5, (rc, took)


if __name__ == "__main__":
    tap_main([test_probes, test_allow_list, test_drain_after_last_call, test_drain_timeout,
              test_term_during_drain, test_drain_without_calls])
