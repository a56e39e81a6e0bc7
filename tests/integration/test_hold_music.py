#!/usr/bin/python3
"""Music on hold ([media] hold_music, issue 11 items 4 and 9), asserting on
what the peers decoded: the gateway plays a 660 Hz WAV (written here, 44.1
kHz stereo, 2 s, so it is downmixed, resampled and looped) to the held
party.

- The browser (aiortc, PCMU, 1 kHz) holds a call to baresip (PCMU, 440 Hz):
  baresip hears the browser's 1 kHz before, the 660 Hz music during the
  hold, the 1 kHz again after the resume; the browser hears 440 Hz before
  and after (relayed packets after the music continue its numbering).
- baresip holds the browser (aiortc, Opus: the call is transcoded): the
  browser hears baresip's 440 Hz before, the music in Opus during, 440 Hz
  after, over SRTP that stayed continuous.
- A SIP peer (SIPp and a Python RTP socket) holds with a=sendonly and
  keeps sending: the browser hears its 440 Hz relayed; once it stops, the
  music; after its resume, its 440 Hz again."""

import asyncio
import os
import socket
import struct
import tempfile
import threading
import time
import warnings
import wave

import numpy as np

with warnings.catch_warnings():
    # G.711 for the RTP peer; deprecated in 3.11, still in Debian 12's
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from peers import Baresip, dominant, tones
from tandem_harness import Gateway, tap_main
from test_call_aiortc import connect, counters_zero
from test_hold import browser_call, rec_len, tone_in
from test_sip_calls import sipp_ok, sipp_uas
from aiortc import RTCSessionDescription
from aiortc_peer import offering_pc

MUSIC_HZ = 660


def music_wav():
    """2 s of 660 Hz at 44.1 kHz stereo, 16-bit: a whole number of cycles,
    so the loop has no seam."""
    path = os.path.join(tempfile.mkdtemp(prefix="tandem-moh-"), "music.wav")
    t = np.arange(2 * 44100) / 44100
    x = (0.4 * 32767 * np.sin(2 * np.pi * MUSIC_HZ * t)).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.repeat(x, 2).tobytes())
    return path


def gateway():
    import random
    base = random.randrange(30000, 60000, 200)
    return Gateway(extra="[media]\nport_min = %d\nport_max = %d\nhold_music = %s\n" % (
        base, base + 199, music_wav()))


def baresip():
    return Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                   codecs="pcmu").start()


async def hold_and_resume(b, codec, hold, resume, expect_remote):
    """A call from aiortc (`codec`) to baresip: 2.5 s, held 3 s, resumed
    2.5 s. Returns the times and the browser's recording split at the hold
    and resume."""
    with gateway() as gw:
        c = await connect(gw)
        pc, rec = await offering_pc(codec, record=True)
        r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        call = r["call"]
        assert (await c.wait_state(call, "answered"))["code"] == 200
        b.wait_event("CALL_ESTABLISHED")
        t0 = time.monotonic()
        await asyncio.sleep(2.5)
        await hold(c, call)
        st = await c.wait_state(call, ("held", "answered"))
        assert st["state"] == "held", st
        assert ("SIP peer" in st["reason"]) == expect_remote, st
        th, n_held = time.monotonic(), rec_len(rec)
        await asyncio.sleep(3.0)
        await resume(c, call)
        st = await c.wait_state(call, ("resumed", "answered"))
        assert st["state"] == "resumed", st
        tr, n_res = time.monotonic(), rec_len(rec)
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
    return (t0, th, tr, te), (y, yr, n_held, n_res)


class RtpPeer:
    """The SIP peer's media: one socket sending 440 Hz PCMU to where the
    gateway's RTP comes from, and keeping every packet it gets (arrival,
    SSRC, sequence, timestamp, payload)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.005)
        self.port = self.sock.getsockname()[1]
        self.got, self.dest = [], None
        self.sending = True
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        seq, ts, n, next_t = 1000, 5000, 0, time.monotonic()
        t = np.arange(160)
        while not self.stop_ev.is_set():
            try:
                while True:
                    data, addr = self.sock.recvfrom(2048)
                    if len(data) > 12 and data[1] & 0x7F == 0:
                        _, _, sq, stamp, ssrc = struct.unpack("!BBHII", data[:12])
                        self.got.append((time.monotonic(), ssrc, sq, stamp, data[12:]))
                        self.dest = self.dest or addr
            except (socket.timeout, BlockingIOError):
                pass
            if time.monotonic() >= next_t and self.dest:
                next_t += 0.02
                if not self.sending:
                    continue
                pcm = 0.4 * 32767 * np.sin(2 * np.pi * 440 * (t + n * 160) / 8000)
                hdr = struct.pack("!BBHII", 0x80, 0, seq, ts, 0x5eed)
                self.sock.sendto(hdr + audioop.lin2ulaw(pcm.astype("<i2").tobytes(), 2),
                                 self.dest)
                seq, ts, n = (seq + 1) & 0xFFFF, (ts + 160) & 0xFFFFFFFF, n + 1

    def pcm(self, after, before):
        data = b"".join(p for t, _, _, _, p in self.got if after <= t < before)
        return np.frombuffer(audioop.ulaw2lin(data, 2), dtype="<i2") / 32768.0

    def close(self):
        self.stop_ev.set()
        self.thread.join(2)
        self.sock.close()


async def test_browser_holds_sip_peer_hears_music():
    peer = RtpPeer()
    sp, port, cwd = sipp_uas("uas_hold_music.xml", extra=["-key", "p1", str(peer.port)])
    try:
        with gateway() as gw:
            c = await connect(gw)
            pc, rec, call = await browser_call(c, "sip:b@127.0.0.1:%d" % port)
            await asyncio.sleep(2.5)
            assert await c.call("hold", {"call": call}) == {}
            st = await c.wait_state(call, ("held", "answered"))
            assert st["state"] == "held", st
            th, n_held = time.monotonic(), rec_len(rec)
            await asyncio.sleep(3.0)
            assert await c.call("resume", {"call": call}) == {}
            st = await c.wait_state(call, ("resumed", "answered"))
            assert st["state"] == "resumed", st
            tr, n_res = time.monotonic(), rec_len(rec)
            await asyncio.sleep(2.5)
            te = time.monotonic()
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            sipp_ok(sp, cwd)
            rec.stop()
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        peer.close()
        if sp.poll() is None:
            sp.kill()
    # what the SIP peer heard: the browser, the music while held, the browser
    tone_in(peer.pcm(th - 2.0, th), 8000, 1000, "SIP peer before the hold")
    music = peer.pcm(th + 0.3, tr)
    assert len(music) >= 8000 * 2.5, "the peer got %.1f s of music" % (len(music) / 8000)
    tone_in(music, 8000, MUSIC_HZ, "SIP peer during the browser's hold")
    tone_in(peer.pcm(tr + 0.3, te), 8000, 1000, "SIP peer after the resume")
    # one RTP stream throughout: one SSRC, every sequence number once and in
    # order across the music's start and end, timestamps moving forward
    pkts = [g for g in peer.got if g[0] < te]
    assert len({g[1] for g in pkts}) == 1, "SSRCs: %s" % {g[1] for g in pkts}
    steps = {(b[2] - a[2]) & 0xFFFF for a, b in zip(pkts, pkts[1:])}
    assert steps == {1}, "sequence steps seen: %s" % sorted(steps)
    back = [b for a, b in zip(pkts, pkts[1:]) if not 0 < (b[3] - a[3]) & 0xFFFFFFFF < 8000]
    assert not back, "timestamps not moving forward by under 1 s at %d packets" % len(back)
    # the holder heard the peer before and after, nothing in between
    y, yr = rec.samples()
    tone_in(y[yr // 2:n_held], yr, 440, "browser before the hold")
    tone_in(y[n_res + yr // 2:], yr, 440, "browser after the resume")
    assert n_res - n_held < yr * 0.5, "the holder decoded %.1f s while holding" % (
        (n_res - n_held) / yr)


async def test_sip_peer_holds_browser_hears_music():
    b = baresip()

    async def hold(c, call):
        b.command("hold")

    async def resume(c, call):
        b.command("resume")
    try:
        (t0, th, tr, te), (y, yr, n_held, n_res) = await hold_and_resume(
            b, "opus", hold, resume, True)
    finally:
        b.stop()
    tone_in(y[yr // 2:n_held], yr, 440, "browser before the peer's hold")
    held = y[n_held + yr // 2:n_res]
    tone_in(held, yr, MUSIC_HZ, "browser during the peer's hold (Opus)")
    assert len(held) >= yr * 2.0, "the browser decoded %.1f s of music" % (len(held) / yr)
    tone_in(y[n_res + yr // 2:], yr, 440, "browser after the peer's resume")


async def test_sip_peer_holds_sending_is_relayed_then_music():
    """A peer that holds with a=sendonly and still sends: its media is
    relayed; once it stops, the music takes over; on resume, the relay."""
    peer = RtpPeer()
    sp, port, cwd = sipp_uas("uas_hold_sendonly.xml", extra=["-key", "p1", str(peer.port)])
    try:
        with gateway() as gw:
            c = await connect(gw)
            pc, rec, call = await browser_call(c, "sip:b@127.0.0.1:%d" % port)
            st = await c.wait_state(call, "held", 10)
            assert "SIP peer" in st["reason"], st
            n_held = rec_len(rec)
            await asyncio.sleep(2.0)
            peer.sending = False
            n_quiet = rec_len(rec)
            await c.wait_state(call, "resumed", 10)
            n_res = rec_len(rec)
            peer.sending = True
            await asyncio.sleep(2.5)
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            sipp_ok(sp, cwd)
            rec.stop()
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        peer.close()
        if sp.poll() is None:
            sp.kill()
    y, yr = rec.samples()
    tone_in(y[yr // 2:n_held], yr, 440, "browser before the peer's hold")
    tone_in(y[n_held + yr // 4:n_quiet], yr, 440, "browser while the held peer sends")
    music = y[n_quiet + yr // 2:n_res]
    assert len(music) >= yr * 2.0, "the browser decoded %.1f s of music" % (len(music) / yr)
    tone_in(music, yr, MUSIC_HZ, "browser once the held peer went quiet")
    tone_in(y[n_res + yr // 2:], yr, 440, "browser after the peer's resume")


if __name__ == "__main__":
    tap_main([test_browser_holds_sip_peer_hears_music, test_sip_peer_holds_browser_hears_music,
              test_sip_peer_holds_sending_is_relayed_then_music])
