"""ICE across a real link: headless Chromium in one network namespace
(127.0.0.3 on a veth), Tandem and baresip in another (127.0.0.2 on the
veth's other end), so the media path is not the loopback interface. Trickle
on and off; the browser hears 440 Hz, baresip 1 kHz, and the browser's
selected candidate pair runs over the veth addresses."""

import os
import sys

import netns
if __name__ == "__main__":
    netns.enter_two_hosts()

from peers import Baresip, assert_tone, tones   # noqa: E402
from tandem_harness import Gateway, tap_main   # noqa: E402
from test_call_chromium import Browser, assert_heard   # noqa: E402

GW = "[websocket]\nlisten = 127.0.0.2\n[media]\nice_addresses = 127.0.0.2\n"


def across_veth(trickle):
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway(GW, host="127.0.0.2") as gw:
            br = Browser({"ws": gw.url, "mode": "outgoing", "codec": "PCMU", "to": b.uri,
                          "trickle": "1" if trickle else "0", "hangup": "browser",
                          "seconds": 4},
                         host="127.0.0.2", netns=os.environ["TANDEM_BROWSER_NS"])
            try:
                m = br.wait("measured", 40)
                done = br.wait("done", 20)
            finally:
                br.close()
            assert_heard(m["peaks"], 440, "browser")
            pairs = [s for s in m["stats"] if s["type"] == "pair" and s["selected"]]
            assert pairs and pairs[0]["local"] == "127.0.0.3" and \
                pairs[0]["remote"] == "127.0.0.2", "media did not cross the veth: %s" % pairs
            assert done["ended"]["state"] == "ended", done
            b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    x, rate = b.received()
    assert_tone(x, rate, 1000, 3, "baresip received")


def test_veth_trickle():
    across_veth(True)


def test_veth_no_trickle():
    across_veth(False)


if __name__ == "__main__":
    tap_main([test_veth_trickle, test_veth_no_trickle])
