"""Calls that survive their WebSocket (issue 12 item 3, protocol.md
"Reattaching calls"), with python3-aiortc as the browser and baresip as the
SIP phone. Asserts on what arrived: the tone each side hears (1 kHz from the
first pc, 700 Hz from the pc of the "reloaded page", 440 Hz from baresip),
whether baresip saw the call close (its CALL_CLOSED event, which a BYE
causes), the gateway's answers (`calls` in login, 403, 404, 488) and its
leak counters back at zero."""

import asyncio
import os
import time

import websockets

from aiortc import RTCSessionDescription

from aiortc_peer import Client, Recorder, ToneTrack, new_pc, offering_pc, prefer
from peers import Baresip, assert_tone, dominant, tones
from tandem_harness import Gateway, tap_main

MEDIA_SECONDS = 3.5


async def connect(gw, user="alice"):
    """A logged-in client and its login result."""
    ws = await websockets.connect(gw.url, subprotocols=["tandem.v1"], max_size=2 ** 22)
    c = Client(ws)
    r = await c.call("login", {"user": user})
    return c, r


async def counters_zero(c, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        s = (await c.call("stats"))["calls"]
        if all(s[k] == 0 for k in ("calls", "sip_dialogs", "bridges", "media_legs",
                                   "media_ports")):
            return s
        if time.monotonic() > deadline:
            raise AssertionError("resources left behind: %s" % s)
        await asyncio.sleep(0.1)


def baresip_closed(b):
    """Whether baresip has reported the call closed (a BYE or CANCEL from
    the gateway), without consuming the event."""
    b.command("reginfo")   # reads the events that came meanwhile
    return [e for e in b.events if e.get("type") == "CALL_CLOSED"]


async def call_up(gw, b):
    """alice's aiortc pc (1 kHz) calls baresip (440 Hz), answered, media
    flowing MEDIA_SECONDS. Returns client, pc, recorder, call id."""
    c, _ = await connect(gw)
    pc, rec = await offering_pc("PCMU", record=True)
    r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(r["call"], "answered")
    assert st["code"] == 200, st
    b.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(MEDIA_SECONDS)
    return c, pc, rec, r["call"]


async def tone_within(rec, hz, seconds, what):
    """Waits until the last second `rec` recorded holds hz; the time it took."""
    t0 = time.monotonic()
    while True:
        x, rate = rec.samples()
        if len(x) >= rate:
            peak, rms, _ = dominant(x[-rate:], rate, lead_s=0)
            if abs(peak - hz) <= 20 and rms > 0.01:
                return time.monotonic() - t0
        if time.monotonic() - t0 > seconds:
            raise AssertionError("%s: no %d Hz within %d s" % (what, hz, seconds))
        await asyncio.sleep(0.1)


async def test_drop_reattach_then_reload():
    """The WebSocket closes mid-call: baresip hears no BYE and the pc's
    media goes on. A new socket's login lists the call; another user's
    reattach gets 403, an unknown call 404; `reattach` with the surviving pc
    resumes notifications; another socket of alice's takes it over (the
    first hears "taken over" and gets 404 for it). Then the page "reloads"
    (socket and pc gone): a
    new pc (700 Hz) reattaches with a new offer (the old pc closed 0.3 s
    before its socket: the call waits for the socket), an offer without PCMU
    getting 488 first; within 5 s each side hears the other's tone, baresip
    never saw a BYE, and the hangup from the new socket reaches it."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway() as gw:
            c, pc, rec, call = await call_up(gw, b)
            await c.close()
            await asyncio.sleep(1.5)
            assert not baresip_closed(b), "baresip saw the call close with the WebSocket"

            c2, login = await connect(gw)
            assert login["calls"] == [{"call": call, "state": "answered", "peer": b.uri,
                                       "direction": "out"}], login
            mallory, ml = await connect(gw, "mallory")
            assert ml["calls"] == [], ml
            m = await mallory.request("reattach", {"call": call})
            assert m["error"]["code"] == 403, m
            m = await c2.request("reattach", {"call": "c0nosuch"})
            assert m["error"]["code"] == 404, m
            assert (await c2.call("reattach", {"call": call})) == {}
            _, again = await connect(gw)
            assert again["calls"] == [], again   # attached again: not listed
            # the surviving pc still carries the call both ways
            rec.chunks.clear()
            await asyncio.sleep(MEDIA_SECONDS)
            x, rate = rec.samples()
            assert_tone(x, rate, 440, 2.5, "aiortc (surviving pc) received")

            # another tab of alice's takes the call over from the live c2
            c4, _ = await connect(gw)
            assert (await c4.call("reattach", {"call": call})) == {}
            st = await c2.wait_state(call, "ended")
            assert st["reason"] == "taken over", st
            m = await c2.request("hangup", {"call": call})
            assert m["error"]["code"] == 404, m
            await c2.close()

            # the page reloads: its pc and socket go, the pc first (its DTLS
            # close_notify may reach the gateway before the socket's close)
            rec.stop()
            await pc.close()
            await asyncio.sleep(0.3)
            await c4.close()
            await asyncio.sleep(1.5)
            assert not baresip_closed(b), "baresip saw the call close with the pc"
            c3, login = await connect(gw)
            assert [x["call"] for x in login["calls"]] == [call], login
            pc2, rec2 = new_pc(), Recorder()
            pc2.on("track", lambda t: rec2.start(t))
            pc2.addTrack(ToneTrack(700))
            prefer(pc2, "opus")
            await pc2.setLocalDescription(await pc2.createOffer())
            m = await c3.request("reattach", {"call": call, "sdp": pc2.localDescription.sdp})
            assert m["error"]["code"] == 488 and "PCMU" in m["error"]["message"], m
            await pc2.close()

            pc2, rec2 = new_pc(), Recorder()
            pc2.on("track", lambda t: rec2.start(t))
            pc2.addTrack(ToneTrack(700))
            prefer(pc2, "PCMU")
            await pc2.setLocalDescription(await pc2.createOffer())
            t0 = time.monotonic()
            r = await c3.call("reattach", {"call": call, "sdp": pc2.localDescription.sdp})
            await pc2.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
            await tone_within(rec2, 440, 5 - (time.monotonic() - t0), "new pc")
            print("# reloaded page hears the phone %.2f s after reattach" %
                  (time.monotonic() - t0), flush=True)
            await asyncio.sleep(MEDIA_SECONDS)
            assert not baresip_closed(b), "baresip saw the call close on the reload"
            x, rate = rec2.samples()
            assert_tone(x, rate, 440, 2.5, "aiortc (new pc) received")

            await c3.call("hangup", {"call": call})
            st = await c3.wait_state(call, "ended")
            assert st["code"] == 200, st
            b.wait_event("CALL_CLOSED")
            rec2.stop()
            await pc2.close()
            await counters_zero(c3)
            for cl in (mallory, c3):
                await cl.close()
    finally:
        b.stop()
    x, rate = b.received()
    # the first pc's 1 kHz at the start, the new pc's 700 Hz at the end
    assert_tone(x[:int(3 * rate)], rate, 1000, 2, "baresip received (first pc)")
    assert_tone(x[-int(3 * rate):], rate, 700, 2, "baresip received (new pc)")


async def test_grace_expires():
    """Nobody comes back within [calls] reattach_grace (3 s): the call ends,
    baresip gets its BYE no sooner, a login afterwards lists nothing and a
    reattach gets 404."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway("[calls]\nreattach_grace = 3\n") as gw:
            c, pc, rec, call = await call_up(gw, b)
            t0 = time.monotonic()
            await c.close()
            rec.stop()
            await pc.close()
            await asyncio.sleep(2)
            assert not baresip_closed(b), "baresip saw the call close within the grace"
            b.wait_event("CALL_CLOSED", timeout=10)
            took = time.monotonic() - t0
            print("# BYE %.2f s after the WebSocket closed" % took, flush=True)
            assert took >= 2.9, took
            c2, login = await connect(gw)
            assert login["calls"] == [], login
            m = await c2.request("reattach", {"call": call})
            assert m["error"]["code"] == 404, m
            await counters_zero(c2)
            await c2.close()
    finally:
        b.stop()


async def test_logout_ends_calls():
    """logout is an explicit end: the call ends at once (`ended` "logged
    out") and baresip gets its BYE."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway() as gw:
            c, pc, rec, call = await call_up(gw, b)
            assert (await c.call("logout")) == {}
            st = await c.wait_state(call, "ended")
            assert st["reason"] == "logged out", st
            b.wait_event("CALL_CLOSED", timeout=5)
            rec.stop()
            await pc.close()
            c2, _ = await connect(gw)
            await counters_zero(c2)
            await c2.close()
            await c.close()
    finally:
        b.stop()


if __name__ == "__main__":
    tap_main([test_drop_reattach_then_reload, test_grace_expires, test_logout_ends_calls])
