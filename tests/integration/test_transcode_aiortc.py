"""Transcoded calls through Tandem (issue 10), with python3-aiortc as the
browser offering only Opus, and a SIP side that has no Opus: baresip
restricted to PCMU, PCMA or G.722 (tones both ways: 1 kHz from aiortc,
440 Hz from baresip, so a looped-back stream fails), and a SIPp UAS that
answers only PCMU and echoes RTP (the 1 kHz tone comes back through two
transcodes). Each test asserts on the recorded audio's dominant frequency
and level, the payload type baresip decoded, and the call's `stats`
(codecs, packets and the transcoder's counters). The loss tests drop 5 %
and 15 % of aiortc's RTP at random and delay the rest by 0-30 ms (a lossy
link written in the test, at aiortc's socket: this kernel has no netem);
baresip (PCMU) must hear the tone with no silent gap longer than a frame."""

import asyncio
import os
import random
import subprocess
import tempfile

import numpy as np
from aiortc import RTCSessionDescription
from aiortc.rtcdtlstransport import RTCDtlsTransport

from aiortc_peer import Recorder, ToneTrack, new_pc, prefer
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, free_port, tap_main
from test_call_aiortc import connect, counters_zero

MEDIA_SECONDS = 4.5


async def opus_pc():
    """A pc sending 1 kHz with only Opus (and no telephone-event) offered,
    and a Recorder on what comes back."""
    pc, rec = new_pc(), Recorder()
    pc.on("track", lambda t: rec.start(t))
    pc.addTrack(ToneTrack(1000))
    prefer(pc, "opus")
    await pc.setLocalDescription(await pc.createOffer())
    assert "PCMU" not in pc.localDescription.sdp, "offer must hold Opus alone"
    return pc, rec


async def opus_call(gw, to, after=None):
    """Places a call from an Opus-only aiortc, lets media flow, reads the
    call's stats, hangs up; returns (recording, rate, stats)."""
    c = await connect(gw)
    pc, rec = await opus_pc()
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
    call = r["call"]
    assert "opus/48000" in r["sdp"], r["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(call, "answered", 20)
    assert st["code"] == 200, st
    if after:
        after()
    await asyncio.sleep(MEDIA_SECONDS)
    stats = await c.call("stats", {"call": call})
    await c.call("hangup", {"call": call})
    await c.wait_state(call, "ended")
    rec.stop()
    await pc.close()
    await counters_zero(c)
    await c.close()
    x, rate = rec.samples()
    return x, rate, stats


def check_stats(stats, sip_codec):
    legs = {leg["side"]: leg for leg in stats["legs"]}
    web, sip = legs["webrtc"], legs["sip"]
    assert web["codec"] == "opus" and sip["codec"] == sip_codec, stats
    assert stats["transcoded"] is True, stats
    # 4.5 s of 20 ms packets each way, minus set-up
    for leg in (web, sip):
        assert leg["packets_in"] > 150 and leg["packets_out"] > 150, leg
        assert leg["frames_decoded"] > 150, leg


async def opus_to_baresip(codec, modules=()):
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs=codec,
                extra_modules=modules).start()
    try:
        with Gateway() as gw:
            x, rate, stats = await opus_call(gw, b.uri,
                                             after=lambda: b.wait_event("CALL_ESTABLISHED"))
            b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    assert_tone(x, rate, 440, 3, "aiortc (Opus) received from %s" % codec)
    y, yrate = b.received()
    assert_tone(y, yrate, 1000, 3, "baresip (%s) received" % codec)
    # the codec baresip decoded is the one it was restricted to
    assert "audio: Set audio decoder: %s" % codec.upper() in b.read_log(), \
        b.read_log()[-1500:]
    check_stats(stats, {"pcmu": "PCMU", "pcma": "PCMA", "g722": "G722"}[codec])


async def test_opus_browser_baresip_pcmu():
    await opus_to_baresip("pcmu")


async def test_opus_browser_baresip_pcma():
    await opus_to_baresip("pcma")


async def test_opus_browser_baresip_g722():
    await opus_to_baresip("g722", ("g722.so",))


async def test_opus_browser_sipp_pcmu_echo():
    """SIPp's built-in UAS answers PCMU alone and echoes every RTP packet:
    the 1 kHz tone goes Opus -> PCMU -> (echo) -> PCMU -> Opus."""
    port = free_port(also_udp=True)
    sipp = subprocess.Popen(
        ["sipp", "-sn", "uas", "-p", str(port), "-m", "1", "-nostdin", "-i", "127.0.0.1",
         "-mi", "127.0.0.1", "-mp", str(free_port(also_udp=True)), "-rtp_echo",
         "-timeout", "30", "-timeout_error", "-trace_err"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=tempfile.mkdtemp(prefix="tandem-sipp-"))
    try:
        with Gateway() as gw:
            x, rate, stats = await opus_call(gw, "sip:echo@127.0.0.1:%d" % port)
        out = sipp.communicate(timeout=20)[0].decode(errors="replace")
        assert sipp.returncode == 0, out[-1500:]
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
    assert_tone(x, rate, 1000, 3, "aiortc received SIPp's echo")
    check_stats(stats, "PCMU")


class LossyLink:
    """While active, aiortc's SRTP packets (not RTCP) leave through a link
    that loses `loss` of them at random and delays each of the others by
    0-30 ms (so they also reorder), as netem would."""

    def __init__(self, loss, jitter_s=0.030, seed=7):
        self.loss, self.jitter, self.rng = loss, jitter_s, random.Random(seed)
        self.sent = self.dropped = 0
        self.orig = RTCDtlsTransport._send_rtp

    def __enter__(self):
        link = self

        async def send_rtp(transport, data):
            if not link.loss or (len(data) > 1 and 192 <= data[1] <= 223):
                return await link.orig(transport, data)   # RTCP, or no loss yet
            if link.rng.random() < link.loss:
                link.dropped += 1
                return
            link.sent += 1
            protect = transport._tx_srtp.protect(data)   # in order: SRTP's index
            loop = asyncio.get_event_loop()
            loop.call_later(link.rng.uniform(0, link.jitter),
                            lambda: asyncio.ensure_future(transport.transport._send(protect)))
        RTCDtlsTransport._send_rtp = send_rtp
        return self

    def __exit__(self, *exc):
        RTCDtlsTransport._send_rtp = self.orig


def longest_silence_ms(x, rate, lead_s=1.0, tail_s=0.5):
    """The longest run of 10 ms blocks below RMS 0.01 in the middle of x."""
    blk = rate // 100
    x = x[int(rate * lead_s): len(x) - int(rate * tail_s)]
    n = len(x) // blk
    rms = np.sqrt(np.mean(x[:n * blk].reshape(n, blk) ** 2, axis=1))
    run = best = 0
    for quiet in rms < 0.01:
        run = run + 1 if quiet else 0
        best = max(best, run)
    return best * 10


async def lossy_call(loss):
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway() as gw, LossyLink(0) as link:
            # loss starts once the call is up (ICE and DTLS are not the point)
            x, rate, stats = await opus_call(
                gw, b.uri, after=lambda: (b.wait_event("CALL_ESTABLISHED"),
                                          setattr(link, "loss", loss)))
            b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    y, yrate = b.received()
    assert_tone(y, yrate, 1000, 3, "baresip received at %d %% loss" % (loss * 100))
    gap = longest_silence_ms(y, yrate)
    web = [leg for leg in stats["legs"] if leg["side"] == "webrtc"][0]
    print("# %d %% loss (%d of %d dropped), 0-30 ms jitter: lost %d, concealed %d, FEC %d, "
          "jitter buffer %d ms; longest silence at the SIP side %d ms" % (
              loss * 100, link.dropped, link.dropped + link.sent, web["lost"],
              web["concealed"], web["fec_recovered"], web["jb_delay_ms"], gap))
    assert link.dropped > 0 and web["lost"] > 0 and web["concealed"] > 0, web
    # a 20 ms frame can straddle two 10 ms blocks: up to 20 ms is one frame
    assert gap <= 20, "a silent gap of %d ms at %d %% loss" % (gap, loss * 100)


async def test_loss_5_jitter_30():
    await lossy_call(0.05)


async def test_loss_15_jitter_30():
    await lossy_call(0.15)


if __name__ == "__main__":
    tap_main([test_opus_browser_baresip_pcmu, test_opus_browser_baresip_pcma,
              test_opus_browser_baresip_g722, test_opus_browser_sipp_pcmu_echo,
              test_loss_5_jitter_30, test_loss_15_jitter_30])
