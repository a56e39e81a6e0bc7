"""Call transfer through Tandem (issue 11 item 5): aiortc as the browser,
baresip as the SIP phones, one gateway for the file. Each phone plays its
own tone (A 440 Hz, B 660 Hz, C 880 Hz; the browser 1 kHz), so what
arrived says who is connected to whom:

- blind: the browser's `transfer {to: B}` makes A (baresip carries out the
  REFER) call B: B hears A's 440 Hz, the browser's call ends "transferred";
- attended: the browser calls A and B and transfers A to B with
  `replaces`: both calls end "transferred" and B hears A;
- incoming REFER: A transfers the browser (ctrl_tcp `transfer`): the
  gateway calls C on the call's bridge, the browser hears C's 880 Hz and
  A's dialog ends;
- a blind transfer the target refuses leaves the call up, `answered`
  again with the target's 404;
- a REFER to a target the dial plan forbids gets 403 (A reports the
  failed transfer), D is never called, and the call stays up; the same
  target from the browser's `transfer` gets error 403."""

import asyncio
import os
import subprocess
import tempfile

import numpy as np
import websockets

from aiortc import RTCSessionDescription

from aiortc_peer import Client, offering_pc
from peers import Baresip, assert_tone, dominant
from tandem_harness import Gateway, tap_main

MEDIA_S = 2.5
TONE_DIR = tempfile.mkdtemp(prefix="tandem-xfer-tones-")
PEERS = {}
GW = {}


def tone(hz):
    """A 30 s mono 48 kHz sine at hz (baresip's aufile source)."""
    path = os.path.join(TONE_DIR, "tone%d.wav" % hz)
    if not os.path.exists(path):
        subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", path, "synth",
                        "30", "sine", str(hz), "vol", "0.5"], check=True)
    return path


def phone(user, hz):
    b = Baresip(user, source_wav=tone(hz), codecs="pcmu").start()
    PEERS[user] = b
    return b


def gateway():
    """One gateway for the file; its dial plan allows a, b and c only."""
    if "gw" not in GW:
        allow = ",".join("sip:%s@127.0.0.1:*" % u for u in ("a", "b", "c"))
        GW["gw"] = Gateway("[calls]\nallow = %s\n" % allow).start()
    return GW["gw"]


async def connect(user="alice"):
    ws = await websockets.connect(gateway().url, subprotocols=["tandem.v1"],
                                  max_size=2 ** 22)
    c = Client(ws)
    await c.call("login", {"user": user})
    return c


async def place(c, b, record=False):
    """Browser call to baresip b, answered: (call id, pc, recorder)."""
    pc, rec = await offering_pc("PCMU", record=record)
    r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(r["call"], "answered")
    assert st["code"] == 200, st
    b.wait_event("CALL_ESTABLISHED")
    return r["call"], pc, rec


def fresh(*users):
    """Phones without a call left over: each test starts its own."""
    return [phone(u, {"a": 440, "b": 660, "c": 880, "d": 550}[u]) for u in users]


def stop_all(*phones):
    for b in phones:
        b.stop()


async def test_blind_transfer_browser_to_b():
    a, b = fresh("a", "b")
    try:
        c = await connect()
        call, pc, _ = await place(c, a)
        assert await c.call("transfer", {"call": call, "to": b.uri}) == {}
        st = await c.wait_state(call, "transferring")
        # B rings for A (baresip sends the INVITE the REFER asked for)
        b.wait_event("CALL_ESTABLISHED", timeout=15)
        st = await c.wait_state(call, "ended", timeout=15)
        assert st["reason"] == "transferred" and st["code"] == 200, st
        await asyncio.sleep(MEDIA_S)
        await pc.close()
        await c.close()
    finally:
        stop_all(a, b)
    x, rate = b.received()
    assert_tone(x, rate, 440, 1.5, "B (transferred to A)")


async def test_attended_transfer_a_to_b():
    a, b = fresh("a", "b")
    try:
        c = await connect()
        c1, pc1, _ = await place(c, a)
        c2, pc2, _ = await place(c, b)
        assert await c.call("transfer", {"call": c1, "replaces": c2}) == {}
        await c.wait_state(c1, "transferring")
        st1 = await c.wait_state(c1, "ended", timeout=15)
        st2 = await c.wait_state(c2, "ended", timeout=15)
        assert st1["reason"] == "transferred" and st2["reason"] == "transferred", (st1, st2)
        await asyncio.sleep(MEDIA_S)
        await pc1.close()
        await pc2.close()
        await c.close()
    finally:
        stop_all(a, b)
    # B's last call is A's (dump files are named by start time)
    x, rate = b.received()
    assert_tone(x, rate, 440, 1.5, "B (connected to A)")


async def test_incoming_refer_calls_c():
    a, cc = fresh("a", "c")
    try:
        c = await connect()
        call, pc, rec = await place(c, a, record=True)
        await asyncio.sleep(1)
        a.command("transfer", cc.uri)
        st = await c.wait_state(call, "transferring")
        st = await c.wait_state(call, "answered", timeout=15)
        assert st["code"] == 200, st
        mark = sum(len(x) for x in rec.chunks)
        cc.wait_event("CALL_ESTABLISHED")
        a.wait_event("CALL_CLOSED", timeout=10)
        await asyncio.sleep(MEDIA_S + 0.5)
        x, rate = rec.samples()
        # the first 0.5 s after the swap may still hold A's last packets
        after = x[mark:]
        assert_tone(after, rate, 880, 2, "browser after the transfer")
        before = x[:mark]
        peak, rms, _ = dominant(before, rate)
        assert abs(peak - 440) <= 20, "browser heard %.0f Hz before, not A's 440" % peak
        await c.call("hangup", {"call": call})
        cc.wait_event("CALL_CLOSED")
        rec.stop()
        await pc.close()
        await c.close()
    finally:
        stop_all(a, cc)
    x, rate = cc.received()
    assert_tone(x, rate, 1000, 1.5, "C (the browser's tone)")


async def test_refer_to_forbidden_target_403():
    a, d = fresh("a", "d")
    try:
        c = await connect()
        call, pc, _ = await place(c, a)
        m = await c.request("transfer", {"call": call, "to": d.uri})
        assert m.get("error", {}).get("code") == 403, m
        a.command("transfer", d.uri)
        ev = a.wait_event(("TRANSFER_FAILED", "CALL_TRANSFER_FAILED"), timeout=10)
        assert "403" in str(ev.get("param", "")), ev
        # no call went to D; the gateway left the call as it was (never
        # `transferring`) until A, as baresip does after a failed transfer,
        # hung up
        st = await c.wait_state(call, ("transferring", "ended"), timeout=10)
        assert st["state"] == "ended" and st["reason"] == "BYE", st
        d.command("reginfo")
        assert not [e for e in d.events if e.get("type", "").startswith("CALL_")], d.events
        await pc.close()
        await c.close()
    finally:
        stop_all(a, d)


async def test_blind_transfer_fails_call_stays():
    """The target refuses (baresip D has no user b: 404): A's NOTIFY says
    so, the browser's call is `answered` again with 404 and still up (its
    hangup reaches A)."""
    a, d = fresh("a", "d")
    try:
        c = await connect()
        call, pc, _ = await place(c, a)
        wrong = "sip:b@127.0.0.1:%d" % d.sip_port
        assert await c.call("transfer", {"call": call, "to": wrong}) == {}
        await c.wait_state(call, "transferring")
        st = await c.wait_state(call, ("answered", "ended"), timeout=15)
        assert st["state"] == "answered" and st["code"] == 404, st
        await c.call("hangup", {"call": call})
        a.wait_event("CALL_CLOSED")
        await pc.close()
        await c.close()
    finally:
        stop_all(a, d)


def cleanup():
    for gw in GW.values():
        gw.stop()
    for b in PEERS.values():
        b.stop()


if __name__ == "__main__":
    tap_main([test_blind_transfer_browser_to_b, test_attended_transfer_a_to_b,
              test_incoming_refer_calls_c, test_refer_to_forbidden_target_403,
              test_blind_transfer_fails_call_stays], cleanup)
