"""Headless Firefox ESR calls through Tandem, inside a private network
namespace like the Chromium tests: a third ICE, DTLS and SRTP stack (nICEr
and NSS) against the gateway's, including the part after libnice hands the
socket over. Firefox's fake microphone plays a 1 kHz tone, baresip plays
440 Hz; each side must hear the other's tone (Firefox runs no AudioContext
without a sound card, so the page records the remote track with
MediaRecorder and the test decodes it). The long call keeps going
past Firefox's and the gateway's ICE consent timeouts."""

import base64
import io
import os

import av
import numpy as np

import netns
if __name__ == "__main__":
    netns.enter_private_lan()

from peers import Baresip, assert_tone, tones   # noqa: E402
from tandem_harness import Gateway, tap_main   # noqa: E402
from test_call_chromium import Browser   # noqa: E402

LONG_WAIT = 36


def decode_recording(rec):
    """(samples, rate) of what Firefox's MediaRecorder captured of the
    remote track, decoded with PyAV (first channel, scaled to +-1)."""
    assert rec and rec.get("data"), "no recording from the page"
    chunks, rate = [], None
    with av.open(io.BytesIO(base64.b64decode(rec["data"]))) as c:
        for frame in c.decode(audio=0):
            a = frame.to_ndarray()
            if a.dtype.kind == "i":
                a = a.astype(np.float64) / 32768.0
            # planar: one row per channel; packed: channels interleaved
            a = a[0] if frame.format.is_planar else a.reshape(-1, len(frame.layout.channels))[:, 0]
            chunks.append(a.astype(np.float64))
            rate = frame.sample_rate
    assert chunks, "recording had no audio (%s)" % rec.get("mime")
    return np.concatenate(chunks), rate


def firefox_calls_baresip(codec, trickle, wait=0):
    wav = "tone440_48k_stereo.wav" if codec == "opus" else "tone440_48k.wav"
    b = Baresip("b", source_wav=os.path.join(tones(wait + 30), wav),
                codecs=codec.lower()).start()
    try:
        # the gateway's ICE on the namespace's private LAN, where Firefox
        # gathers; SIP and plain RTP stay on 127.0.0.1
        with Gateway("[media]\nice_addresses = 10.77.0.1\n") as gw:
            br = Browser({"ws": gw.url, "mode": "outgoing", "codec": codec, "to": b.uri,
                          "trickle": "1" if trickle else "0", "hangup": "browser",
                          # 5 s recorded for the 3 s asserted: on a loaded
                          # machine MediaRecorder delivered 2.9 s of 4
                          "seconds": 5, "wait": wait, "record": "1"}, kind="firefox")
            try:
                m = br.wait("measured", wait + 60)
                done = br.wait("done", 20)
            finally:
                br.close()
            assert m["answered"]["code"] == 200, m
            x, rate = decode_recording(m.get("recording"))
            assert_tone(x, rate, 440, 3, "firefox received after %d s" % wait)
            ice = [s for s in m["stats"] if s["type"] == "ice"][0]
            assert ice["state"] in ("connected", "completed"), ice
            # the browser hung up: the gateway had not ended the call before
            assert done["ended"]["state"] == "ended", done
            b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    x, rate = b.received()
    assert len(x) / rate >= wait + 3, "baresip got %.1f s" % (len(x) / rate)
    assert_tone(x[-4 * rate:], rate, 1000, 3, "baresip received at the end")


def test_firefox_pcmu_trickle():
    firefox_calls_baresip("PCMU", True)


def test_firefox_opus_no_trickle():
    firefox_calls_baresip("opus", False)


def test_firefox_long_call_keeps_ice_consent():
    """36 s in - past the 30 s after which either side gives up on
    unanswered consent checks - Firefox still hears baresip and baresip
    Firefox."""
    firefox_calls_baresip("PCMU", True, LONG_WAIT)


if __name__ == "__main__":
    tap_main([test_firefox_pcmu_trickle, test_firefox_opus_no_trickle,
              test_firefox_long_call_keeps_ice_consent])
