"""A page reload in mid-call with headless Chromium (issue 12 items 3 and
5), inside a private network namespace like test_call_chromium.py: the
page calls baresip, hears its 440 Hz, reloads itself; the reloaded page
finds the call in login's `calls`, reattaches it with a new
RTCPeerConnection, and within 5 s of the reload its media is up and it
hears 440 Hz again; baresip never saw a BYE until the page hung up, and
heard the fake microphone's 1 kHz at the end."""

import os
import threading
import time

import netns
if __name__ == "__main__":
    netns.enter()

import test_call_chromium as tcc   # noqa: E402
from peers import Baresip, assert_tone, tones   # noqa: E402
from tandem_harness import Gateway, tap_main   # noqa: E402
from test_reattach import baresip_closed   # noqa: E402

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reattach_page.html")


GO = threading.Event()


def serve_reattach_page(self):
    if self.path == "/go":
        # held until the test has looked at baresip: the page hangs up
        # when this answers, and that BYE must not be taken for the reload's
        GO.wait(60)
        self.send_response(204)
        self.end_headers()
        return
    with open(PAGE, "rb") as f:
        body = f.read()
    self.send_response(200)
    self.send_header("Content-Type", "text/html")
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    self.wfile.write(body)


# the call tests' browser and result server, on this page instead
tcc.Handler.do_GET = serve_reattach_page


def test_reload_mid_call():
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway() as gw:
            br = tcc.Browser({"ws": gw.url, "to": b.uri, "seconds": 4})
            try:
                m = br.wait("measured", 40)
                assert m["answered"]["code"] == 200, m
                tcc.assert_heard(m["peaks"], 440, "browser before the reload")
                listed = br.wait("listed", 20)["calls"]
                assert listed == [{"call": m["call"], "state": "answered", "peer": b.uri,
                                   "direction": "out"}], listed
                r = br.wait("reattached", 40)
                print("# media up again %.2f s after the reload" % (r["connectedMs"] / 1000),
                      flush=True)
                assert r["state"] == "connected", r
                assert r["connectedMs"] < 5000, r["connectedMs"]
                tcc.assert_heard(r["peaks"], 440, "browser after the reload")
                assert not baresip_closed(b), "baresip saw the call close on the reload"
                GO.set()
                t0 = time.monotonic()
                done = br.wait("done", 20)
                assert done["ended"]["state"] == "ended", done
                b.wait_event("CALL_CLOSED")
                assert time.monotonic() - t0 < 10
            finally:
                GO.set()
                br.close()
    finally:
        b.stop()
    x, rate = b.received()
    assert_tone(x[-int(3 * rate):], rate, 1000, 2, "baresip received after the reload")


if __name__ == "__main__":
    tap_main([test_reload_mid_call])
