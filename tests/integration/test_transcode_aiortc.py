"""Transcoded calls through Tandem (issue 10), with python3-aiortc as the
browser offering only Opus, and a SIP side that has no Opus: baresip
restricted to PCMU, PCMA or G.722 (tones both ways: 1 kHz from aiortc,
440 Hz from baresip, so a looped-back stream fails), and a SIPp UAS that
answers only PCMU and echoes RTP (the 1 kHz tone comes back through two
transcodes). Each test asserts on the recorded audio's dominant frequency
and level, the payload type baresip decoded, and the call's `stats`
(codecs, packets and the transcoder's counters)."""

import asyncio
import os
import subprocess
import tempfile

from aiortc import RTCSessionDescription

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
    # baresip registers G.722 at its audio rate: its account filter wants that
    acc = "g722/16000/1" if codec == "g722" else codec
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs=acc,
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


if __name__ == "__main__":
    tap_main([test_opus_browser_baresip_pcmu, test_opus_browser_baresip_pcma,
              test_opus_browser_baresip_g722, test_opus_browser_sipp_pcmu_echo])
