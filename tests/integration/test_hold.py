#!/usr/bin/python3
"""Hold and re-INVITE (issue 11 items 4 and 9), asserting on what the peers
received: tones in baresip's recording and in aiortc's, RTP packets (and
their tone) at a Python socket that is the SIP peer's media, SIP statuses
SIPp required, and the headers and bodies in SIPp's message trace.

- The browser (aiortc) holds and resumes a call to baresip: baresip hears
  the browser's 1 kHz before, silence during, 1 kHz after, and gets the
  re-INVITEs (a=sendonly, then a=sendrecv, same o= id, version + 1).
- baresip holds and resumes: the browser gets call.state held / resumed
  and the tones carry on afterwards both ways.
- SIPp as the SIP peer (sipp/uas_reinvite.xml): a refresh re-INVITE gets
  the same answer, a hold by a=inactive stops our RTP, a resume on a new
  port and to PCMA moves it there transcoded (the tone arrives at the new
  socket), UPDATE holds and resumes back on PCMU (relayed again), Session-Expires below Min-SE gets 422, a valid one is
  echoed, and glare gets 491 both ways with the retry 2.1-4 s later. The
  peer's RTP resumes with its sequence number jumped past a 16-bit wrap:
  the browser (SRTP) still hears its tone afterwards."""

import asyncio
import os
import re
import socket
import struct
import threading
import time
import warnings

import numpy as np
from aiortc import RTCSessionDescription

with warnings.catch_warnings():
    # G.711 for the RTP peer; deprecated in 3.11, still in Debian 12's
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from aiortc_peer import offering_pc
from peers import Baresip, assert_tone, dominant, tones
from tandem_harness import Gateway, free_port, tap_main
from test_call_aiortc import connect, counters_zero
from test_sip_calls import sipp_ok, sipp_uas


def rms(x):
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


def segment(x, rate, a, b):
    return x[max(0, int(a * rate)):max(0, int(b * rate))]


def tone_in(x, rate, hz, what):
    peak, level, secs = dominant(x, rate, lead_s=0)
    assert secs >= 0.5, "%s: only %.2f s" % (what, secs)
    assert abs(peak - hz) <= 20 and level > 0.01, \
        "%s: %.0f Hz at RMS %.4f, wanted %d Hz" % (what, peak, level, hz)


async def browser_call(c, to):
    pc, rec = await offering_pc("PCMU", record=True)
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    assert (await c.wait_state(r["call"], "answered"))["code"] == 200
    return pc, rec, r["call"]


def rec_len(rec):
    return sum(len(ch) for ch in rec.chunks)


# ------------------------------------------------------------ baresip

def traced_baresip():
    """baresip with its SIP trace on (-s: every message on stdout), so the
    test reads the re-INVITEs it received and the answers it got."""
    return Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu",
                   args=["-s"]).start()


def check_baresip_heard(b, t0, th, tr, te, what):
    """baresip's decoded audio: the browser's 1 kHz before the hold, and
    nothing decoded from the hold on. baresip (1.0, aubridge) restarts its
    player on the hold re-INVITE and its sndfile filter is fed no more, so
    the file cannot show the stretch after the resume: what the SIP peer
    hears after a resume is asserted by test_sipp_reinvites_update_timers_glare
    and test_hold_music.py, whose peer is a plain RTP socket."""
    x, rate = b.received()
    tone_in(segment(x, rate, 0.8, th - t0 - 0.3), rate, 1000, "baresip before " + what)
    decoded = len(x) / rate
    assert decoded <= (th - t0) + 0.8, \
        "baresip decoded %.1f s, past the hold at %.1f s" % (decoded, th - t0)


async def held_call(b, hold, resume, expect_remote):
    with Gateway() as gw:
        c = await connect(gw)
        pc, rec, call = await browser_call(c, b.uri)
        b.wait_event("CALL_ESTABLISHED")
        t0 = time.monotonic()
        await asyncio.sleep(2.5)
        n_before = rec_len(rec)
        await hold(c, call)
        st = await c.wait_state(call, ("held", "answered"))
        assert st["state"] == "held", st
        assert ("SIP peer" in st["reason"]) == expect_remote, st
        th = time.monotonic()
        await asyncio.sleep(2.0)
        if not expect_remote:
            # a second hold is refused: it is held already
            r = await c.request("hold", {"call": call})
            assert r.get("error", {}).get("code") == 409, r
        await resume(c, call)
        st = await c.wait_state(call, ("resumed", "answered"))
        assert st["state"] == "resumed", st
        tr = time.monotonic()
        n_resumed = rec_len(rec)
        await asyncio.sleep(2.5)
        te = time.monotonic()
        await c.call("hangup", {"call": call})
        await c.wait_state(call, "ended")
        b.wait_event("CALL_CLOSED")
        rec.stop()
        await pc.close()
        await counters_zero(c)
        await c.close()
    y, yr = rec.samples()
    tone_in(y[yr // 2:n_before], yr, 440, "browser before the hold")
    tone_in(y[n_resumed + yr // 2:], yr, 440, "browser after the resume")
    return t0, th, tr, te


async def test_browser_holds_baresip():
    b = traced_baresip()

    async def hold(c, call):
        assert await c.call("hold", {"call": call}) == {}

    async def resume(c, call):
        assert await c.call("resume", {"call": call}) == {}
    try:
        t = await held_call(b, hold, resume, False)
    finally:
        b.stop()
    check_baresip_heard(b, *t, "the browser's hold")
    # the re-INVITEs baresip got: sendonly then sendrecv, the o= id of the
    # first INVITE, its version + 1 each time (RFC 3264 8)
    log = b.read_log()
    got = re.findall(r"o=tandem (\d+) (\d+) IN[\s\S]*?a=(sendonly|sendrecv|recvonly|inactive)",
                     log)
    assert len(got) >= 3, got
    first = got[0]
    assert [g[2] for g in got[:3]] == ["sendrecv", "sendonly", "sendrecv"], got
    assert all(g[0] == first[0] for g in got[:3]), got
    assert [int(g[1]) for g in got[:3]] == [int(first[1]), int(first[1]) + 1,
                                            int(first[1]) + 2], got


async def test_baresip_holds_browser():
    b = traced_baresip()

    async def hold(c, call):
        b.command("hold")

    async def resume(c, call):
        b.command("resume")
    try:
        t = await held_call(b, hold, resume, True)
    finally:
        b.stop()
    check_baresip_heard(b, *t, "its own hold")
    # our answers to its hold and resume: recvonly, then sendrecv
    log = b.read_log()
    got = re.findall(r"o=tandem \d+ \d+ IN[\s\S]*?a=(sendonly|sendrecv|recvonly|inactive)",
                     log)
    assert got[:3] == ["sendrecv", "recvonly", "sendrecv"], got


# ------------------------------------------------------------ SIPp + RTP peer

class RtpPeer:
    """The SIP peer's media: two sockets (its port before and after the
    re-INVITE that moves it), a 440 Hz PCMU sender toward the gateway's
    address (learned from its first packet), and what each socket got."""

    def __init__(self):
        self.socks = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.01)
            self.socks.append(s)
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.got = [[], []]            # (arrival, payload) per socket
        self.dest = None
        self.cur = 0                   # the socket we send from
        self.sending = False
        self.seq, self.ts, self.ssrc = 30000, 1000, 0x1234abcd
        self.pt = 0                    # 0 PCMU, 8 PCMA
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def jump(self, by):
        """Resume with the sequence moved `by` (past a wrap) and a new time."""
        self.seq = (self.seq + by) & 0xFFFF
        self.ts = (self.ts + 800000) & 0xFFFFFFFF

    def _run(self):
        t = np.arange(160)
        next_t = time.monotonic()
        n = 0
        while not self.stop_ev.is_set():
            for i, s in enumerate(self.socks):
                try:
                    while True:
                        data, addr = s.recvfrom(2048)
                        if len(data) >= 12 and data[1] & 0x7F in (0, 8):
                            self.got[i].append((time.monotonic(), data[1] & 0x7F,
                                                data[12:]))
                            if self.dest is None:
                                self.dest = addr
                except (socket.timeout, BlockingIOError):
                    pass
            now = time.monotonic()
            if now >= next_t:
                next_t += 0.02
                if self.sending and self.dest:
                    pcm = (0.4 * 32767 * np.sin(2 * np.pi * 440 * (t + n * 160) / 8000))
                    lin = pcm.astype("<i2").tobytes()
                    payload = audioop.lin2alaw(lin, 2) if self.pt == 8 else \
                        audioop.lin2ulaw(lin, 2)
                    hdr = struct.pack("!BBHII", 0x80, self.pt, self.seq, self.ts, self.ssrc)
                    self.socks[self.cur].sendto(hdr + payload, self.dest)
                    self.seq = (self.seq + 1) & 0xFFFF
                    self.ts = (self.ts + 160) & 0xFFFFFFFF
                    n += 1

    def pcm(self, i, pt, after=0.0, before=1e18):
        """What socket i got with payload type pt in the time window, decoded."""
        data = b"".join(p for t, k, p in self.got[i] if after <= t < before and k == pt)
        lin = audioop.alaw2lin(data, 2) if pt == 8 else audioop.ulaw2lin(data, 2)
        return np.frombuffer(lin, dtype="<i2") / 32768.0

    def count(self, i, after, before, pt=None):
        return sum(1 for t, k, _ in self.got[i] if after <= t < before and pt in (None, k))

    def close(self):
        self.stop_ev.set()
        self.thread.join(2)
        for s in self.socks:
            s.close()


def trace_messages(cwd):
    """The SIP messages of SIPp's -trace_msg file, in order."""
    for name in os.listdir(cwd):
        if name.endswith("_messages.log"):
            with open(os.path.join(cwd, name), errors="replace") as f:
                text = f.read()
            out = []
            for chunk in re.split(r"(?m)^-{10,} [^\n]*\n", text):
                # "UDP message received [n] bytes :", a blank line, the message
                if "message" in chunk.split("\n", 1)[0] and "\n\n" in chunk:
                    out.append(chunk.split("\n\n", 1)[1].replace("\r\n", "\n"))
            return out
    raise AssertionError("no SIPp message trace")


def body_of(msg):
    return msg.split("\n\n", 1)[1].strip() if "\n\n" in msg else ""


async def test_sipp_reinvites_update_timers_glare():
    peer = RtpPeer()
    sp, port, cwd = sipp_uas("uas_reinvite.xml", extra=[
        "-key", "p1", str(peer.ports[0]), "-key", "p2", str(peer.ports[1]), "-trace_msg",
        "-timeout", "45"])
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, rec, call = await browser_call(c, "sip:b@127.0.0.1:%d" % port)
            peer.sending = True
            # 1: refresh re-INVITE (no state change); 2: hold by inactive
            st = await c.wait_state(call, "held", 15)
            assert "SIP peer" in st["reason"], st
            t_held = time.monotonic()
            n_before = rec_len(rec)
            peer.sending = False
            # 3: resume on port p2 with PCMA (transcoded); the peer's
            # sequence jumps past a wrap
            await c.wait_state(call, "resumed", 10)
            t_res = time.monotonic()
            n_res = rec_len(rec)
            peer.cur, peer.pt = 1, 8
            peer.jump(40000)
            peer.sending = True
            # 4: UPDATE hold, UPDATE resume, both back on PCMU (relayed)
            await c.wait_state(call, "held", 10)
            t_held2 = time.monotonic()
            n_held2 = rec_len(rec)
            peer.pt = 0
            await c.wait_state(call, "resumed", 10)
            t_res2 = time.monotonic()
            n_res2 = rec_len(rec)
            # 5: glare: our hold crosses the peer's re-INVITE
            await asyncio.sleep(1.5)
            t_hold = time.monotonic()
            assert await c.call("hold", {"call": call}) == {}
            st = await c.wait_state(call, ("held", "answered"), 12)
            waited = time.monotonic() - t_hold
            n_held3 = rec_len(rec)
            assert st["state"] == "held" and st["code"] == 200, st
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            sipp_ok(sp, cwd, keep=True)
            rec.stop()
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        peer.close()
        if sp.poll() is None:
            sp.kill()
    # glare: we own the Call-ID, so the retry waited 2.1-4 s (RFC 3261 14.1)
    assert 2.0 <= waited <= 6.0, "hold after glare took %.1f s" % waited
    # while the peer held (inactive), nothing reached it
    quiet = peer.count(0, t_held + 0.3, t_res) + peer.count(1, t_held + 0.3, t_res)
    assert quiet == 0, "%d RTP packets reached the peer while it held" % quiet
    # after the resume our media goes to the new port in PCMA, transcoded
    # from the browser's PCMU, with its tone
    moved = peer.pcm(1, 8, t_res, t_held2)
    assert len(moved) >= 8000 * 1.5, "only %d PCMA samples at the new port" % len(moved)
    assert_tone(moved, 8000, 1000, 1.5, "peer's new port, PCMA")
    assert peer.count(1, t_res + 0.5, t_held2, pt=0) == 0, "PCMU after the move to PCMA"
    assert peer.count(0, t_res + 0.5, 1e18) == 0, "RTP still went to the old port"
    # back on PCMU by UPDATE: relayed again
    back = peer.pcm(1, 0, t_res2 + 0.3, t_hold)
    tone_in(back, 8000, 1000, "peer after the UPDATE back to PCMU")
    assert peer.count(1, t_res2 + 0.3, t_hold, pt=8) == 0, "PCMA after the UPDATE to PCMU"
    # the browser heard the peer before the hold and after the resume (the
    # sequence jump did not break SRTP toward it)
    y, yr = rec.samples()
    tone_in(y[yr // 2:n_before], yr, 440, "browser before the peer's hold")
    tone_in(y[n_res + yr // 4:n_held2], yr, 440, "browser after the resume with a seq jump")
    tone_in(y[n_res2 + yr // 4:n_held3], yr, 440, "browser after the UPDATE back to PCMU")
    # the trace: headers and bodies
    msgs = trace_messages(cwd)
    invite = next(m for m in msgs if m.lstrip().startswith("INVITE ") and "o=tandem" in m)
    assert re.search(r"(?im)^Session-Expires: *1800", invite), invite
    assert re.search(r"(?im)^Supported:.*timer", invite), invite
    ours = body_of(invite)
    oks = [m for m in msgs if m.lstrip().startswith("SIP/2.0 200") and "CSeq: 1 INVITE" in m]
    assert oks and body_of(oks[0]) == ours, "the refresh did not get the same answer"
    inactive = next(m for m in msgs if "CSeq: 2 INVITE" in m and m.startswith("SIP/2.0 200"))
    assert "a=inactive" in inactive, inactive
    o1 = re.search(r"o=tandem (\d+) (\d+)", ours).groups()
    o2 = re.search(r"o=tandem (\d+) (\d+)", inactive).groups()
    assert o1[0] == o2[0] and int(o2[1]) == int(o1[1]) + 1, (o1, o2)
    upd = next(m for m in msgs if "CSeq: 4 UPDATE" in m and m.startswith("SIP/2.0 200"))
    assert "a=recvonly" in upd, upd
    small = next(m for m in msgs if "CSeq: 8 INVITE" in m and m.startswith("SIP/2.0 422"))
    assert re.search(r"(?im)^Min-SE: *90", small), small
    se = next(m for m in msgs if "CSeq: 9 INVITE" in m and m.lstrip().startswith("SIP/2.0 200"))
    assert re.search(r"(?im)^Session-Expires: *120", se), se
    # the offerless re-INVITE got our offer: same o= id, a newer version
    offered = next(m for m in msgs if "CSeq: 7 INVITE" in m and m.startswith("SIP/2.0 200"))
    o3 = re.search(r"o=tandem (\d+) (\d+)", offered).groups()
    assert o3[0] == o1[0] and int(o3[1]) > int(o2[1]), (o1, o3)
    assert "a=sendrecv" in offered and "m=audio" in offered, offered
    holds = [m for m in msgs if m.lstrip().startswith("INVITE ") and "a=sendonly" in m]
    assert len(holds) == 2, "our hold re-INVITE was not sent twice (491, retry): %d" % len(holds)


if __name__ == "__main__":
    tap_main([test_browser_holds_baresip, test_baresip_holds_browser,
              test_sipp_reinvites_update_timers_glare])
