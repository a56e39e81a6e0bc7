"""DTMF from a real browser (issue 10 item 6): headless Chromium's
RTCDTMFSender (insertDTMF) calls baresip through Tandem; baresip must report
the digits it received as RFC 4733 (CALL_DTMF_START), once each and in
order, and the keys baresip sends back must reach the page as `dtmf`
notifications, source rfc4733. Inside a private network namespace, with the
call page and browser driver of test_call_chromium.py."""

import os
import time

import netns
if __name__ == "__main__":
    netns.enter()

from peers import Baresip, tones   # noqa: E402
from tandem_harness import Gateway, tap_main   # noqa: E402
from test_call_chromium import Browser   # noqa: E402
from test_dtmf import _baresip_digits   # noqa: E402


def chromium_dtmf(codec):
    wav = "tone440_48k_stereo.wav" if codec == "opus" else "tone440_48k.wav"
    b = Baresip("b", source_wav=os.path.join(tones(), wav), codecs=codec.lower()).start()
    try:
        with Gateway() as gw:
            br = Browser({"ws": gw.url, "mode": "outgoing", "codec": codec, "to": b.uri,
                          "trickle": "1", "hangup": "browser", "seconds": 7,
                          "dtmf": "3#7*"})
            try:
                br.wait("dtmf_sent", 40)
                assert _baresip_digits(b, 4, 15) == "3#7*"
                for k in "90":
                    b.command("sndcode", k)
                    time.sleep(0.5)
                m = br.wait("measured", 40)
                br.wait("done", 20)
            finally:
                br.close()
            got = m["dtmf"]
            assert "".join(d["digit"] for d in got) == "90", got
            assert all(d["source"] == "rfc4733" for d in got), got
    finally:
        b.stop()


def test_chromium_dtmf_pcmu():
    chromium_dtmf("PCMU")


def test_chromium_dtmf_opus():
    """Chromium's telephone-event/48000 with Opus toward baresip's /8000."""
    chromium_dtmf("opus")


if __name__ == "__main__":
    tap_main([test_chromium_dtmf_pcmu, test_chromium_dtmf_opus])
