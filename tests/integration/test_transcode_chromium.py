"""A transcoded call from headless Chromium (issue 10 item 6), the browser in
its own network namespace across a veth (harness.md section 3, as
test_call_netns.py): Chromium offering only Opus calls SIPp's UAS, which
answers only PCMU and echoes RTP; the browser's 1 kHz fake microphone comes
back (frequency checked in the page), through Opus -> PCMU -> echo -> PCMU
-> Opus. Then Chromium, still offering only Opus, calls baresip restricted
to each of PCMU, PCMA and G.722: the page hears baresip's 440 Hz and
baresip hears the fake microphone's 1 kHz, and baresip's decoder is the
codec it was restricted to. The loss and jitter tests are in
test_transcode_aiortc.py (this kernel has no netem)."""

import os
import subprocess
import tempfile

import netns
if __name__ == "__main__":
    netns.enter_two_hosts()

from peers import Baresip, assert_tone, tones   # noqa: E402
from tandem_harness import Gateway, free_port, tap_main   # noqa: E402
from test_call_chromium import Browser, assert_heard   # noqa: E402

GW = "[websocket]\nlisten = 127.0.0.2\n[media]\nice_addresses = 127.0.0.2\n"


def browser_ns():
    return os.environ["TANDEM_BROWSER_NS"]


def opus_call(to, seconds=4):
    """A call from Chromium with Opus alone offered; the page's measurement."""
    with Gateway(GW, host="127.0.0.2") as gw:
        br = Browser({"ws": gw.url, "mode": "outgoing", "codec": "opus", "to": to,
                      "trickle": "1", "hangup": "browser", "seconds": seconds},
                     host="127.0.0.2", netns=browser_ns())
        try:
            m = br.wait("measured", 40)
            done = br.wait("done", 20)
        finally:
            br.close()
        log = gw.read_log()
    assert m["answered"]["code"] == 200, m
    assert done["ended"]["state"] == "ended", done
    return m, log


def test_chromium_opus_sipp_pcmu_echo():
    port = free_port(also_udp=True)
    sipp = subprocess.Popen(
        ["sipp", "-sn", "uas", "-p", str(port), "-m", "1", "-nostdin", "-i", "127.0.0.1",
         "-mi", "127.0.0.1", "-mp", str(free_port(also_udp=True)), "-rtp_echo",
         "-timeout", "40", "-timeout_error", "-trace_err"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=tempfile.mkdtemp(prefix="tandem-sipp-"))
    try:
        m, log = opus_call("sip:echo@127.0.0.1:%d" % port)
        out = sipp.communicate(timeout=30)[0].decode(errors="replace")
        assert sipp.returncode == 0, out[-1500:]
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait()
    assert_heard(m["peaks"], 1000, "browser hearing SIPp's PCMU echo")


def opus_to_baresip(codec, modules=()):
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs=codec,
                extra_modules=modules).start()
    try:
        m, _ = opus_call(b.uri, seconds=3)
        b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    assert_heard(m["peaks"], 440, "Chromium (Opus) hearing baresip (%s)" % codec)
    y, rate = b.received()
    assert_tone(y, rate, 1000, 2, "baresip (%s) hearing Chromium (Opus)" % codec)
    assert "audio: Set audio decoder: %s" % codec.upper() in b.read_log(), \
        b.read_log()[-1500:]


def test_chromium_opus_baresip_pcmu():
    opus_to_baresip("pcmu")


def test_chromium_opus_baresip_pcma():
    opus_to_baresip("pcma")


def test_chromium_opus_baresip_g722():
    opus_to_baresip("g722", ("g722.so",))


if __name__ == "__main__":
    tap_main([test_chromium_opus_sipp_pcmu_echo, test_chromium_opus_baresip_pcmu,
              test_chromium_opus_baresip_pcma, test_chromium_opus_baresip_g722])
