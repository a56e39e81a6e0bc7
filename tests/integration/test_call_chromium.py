"""Headless Chromium calls through Tandem, inside a private network namespace
(harness.md section 3): its fake microphone plays 1 kHz, baresip plays
440 Hz; the browser's AnalyserNode must hear 440 Hz and baresip's recording
1 kHz, for at least 3 s each, with PCMU and with Opus, trickle ICE on and
off, hang-up from either side, and calls in both directions."""

import http.server
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import urllib.parse

import netns
if __name__ == "__main__":
    netns.enter()

from peers import Baresip, assert_tone, tones   # noqa: E402
from tandem_harness import Gateway, free_port, tap_main   # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = queue.Queue()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # the page the Browser was made with (test_renegotiate.py has its own)
        with open(os.path.join(HERE, getattr(self.server, "page", "call_page.html")), "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        RESULTS.put(json.loads(self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


FIREFOX_PREFS = {
    # fake devices (a 1 kHz tone) without a permission prompt
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # host candidates on loopback, as IP addresses rather than mDNS names
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    # let the page's AudioContext run without a user gesture
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "media.autoplay.block-webaudio": False,
    "media.autoplay.enabled.user-gestures-needed": False,
    # no sound card here: a null audio backend still drives the audio graph
    "media.cubeb.force_null_context": True,
    # nothing that reaches for the network on its own
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
}


class Browser:
    """Headless Chromium (default) or Firefox ESR on the call page."""

    def __init__(self, params, host="127.0.0.1", netns=None, wav_seconds=30, kind="chromium",
                 page="call_page.html"):
        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.page = page
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.dir = tempfile.mkdtemp(prefix="tandem-%s-" % kind)
        url = "http://%s:%d/?%s" % (host, self.server.server_port,
                                     urllib.parse.urlencode(params))
        wav = os.path.join(tones(wav_seconds), "tone1k_48k.wav")
        self.log = open(os.path.join(self.dir, "browser.log"), "wb")
        prefix = ["ip", "netns", "exec", netns] if netns else []
        profile = os.path.join(self.dir, "profile")
        if kind == "firefox":
            os.makedirs(profile)
            with open(os.path.join(profile, "user.js"), "w") as f:
                for k, v in FIREFOX_PREFS.items():
                    f.write("user_pref(%s, %s);\n" % (json.dumps(k), json.dumps(v)))
            cmd = ["firefox-esr", "--headless", "--no-remote", "--profile", profile, url]
        else:
            cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                   "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync",
                   "--user-data-dir=" + profile,
                   "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                   "--use-file-for-fake-audio-capture=" + wav,
                   "--allow-loopback-in-peer-connection",
                   "--autoplay-policy=no-user-gesture-required", url]
        env = dict(os.environ, MOZ_HEADLESS="1") if kind == "firefox" else None
        self.proc = subprocess.Popen(prefix + cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)
        while not RESULTS.empty():
            RESULTS.get_nowait()

    def wait(self, stage, timeout=30):
        while True:
            try:
                r = RESULTS.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("browser never reached %s; chromium said: %s" % (
                    stage, open(os.path.join(self.dir, "browser.log"), "rb").read()
                    .decode(errors="replace")[-1500:]))
            if r.get("error"):
                raise AssertionError("page failed: %s\n%s" % (r["error"],
                                                             "\n".join(r.get("log", []))))
            if r.get("stage") == stage:
                return r

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.server.shutdown()
        self.server.server_close()
        if os.environ.get("TANDEM_KEEP_BROWSER"):
            print("# browser dir " + self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def assert_heard(peaks, hz, what):
    """Median of the loud peaks within 15 Hz, over at least 3 s of samples."""
    # the page sends -Infinity dB (silence) as null
    loud = [f for f, db in peaks if db is not None and db > -70]
    assert len(loud) >= 12, "%s: only %d loud samples of %d: %s" % (what, len(loud),
                                                                   len(peaks), peaks)
    med = statistics.median(loud)
    assert abs(med - hz) <= 15, "%s: median peak %.0f Hz, wanted %d" % (what, med, hz)


def browser_calls_baresip(codec, trickle, hangup):
    wav = "tone440_48k_stereo.wav" if codec == "opus" else "tone440_48k.wav"
    b = Baresip("b", source_wav=os.path.join(tones(), wav), codecs=codec.lower()).start()
    try:
        with Gateway() as gw:
            br = Browser({"ws": gw.url, "mode": "outgoing", "codec": codec, "to": b.uri,
                          "trickle": "1" if trickle else "0", "hangup": hangup, "seconds": 4})
            try:
                m = br.wait("measured", 40)
                assert m["answered"]["code"] == 200, m
                if hangup == "sip":
                    b.hangup()
                done = br.wait("done", 20)
            finally:
                br.close()
            assert_heard(m["peaks"], 440, "browser")
            assert done["ended"]["state"] == "ended", done
            if hangup == "sip":
                assert done["ended"]["code"] == 200, done["ended"]
            b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    x, rate = b.received()
    assert_tone(x, rate, 1000, 3, "baresip received")


def test_pcmu_trickle_baresip_hangs_up():
    browser_calls_baresip("PCMU", True, "sip")


def test_opus_no_trickle_browser_hangs_up():
    browser_calls_baresip("opus", False, "browser")


def test_baresip_calls_browser():
    with Gateway() as gw:
        br = Browser({"ws": gw.url, "mode": "incoming", "user": "alice", "seconds": 4})
        b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu")
        try:
            br.wait("ready", 30)
            b.start()
            b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
            inc = br.wait("incoming", 20)["incoming"]
            assert "sip:b@" in inc["from"], inc
            m = br.wait("measured", 30)
            assert m["answered"]["state"] == "answered", m
            b.hangup()
            br.wait("done", 20)
            assert_heard(m["peaks"], 440, "browser")
        finally:
            br.close()
            b.stop()
        x, rate = b.received()
        assert_tone(x, rate, 1000, 3, "baresip received")


LONG_WAIT = 36


def test_long_call_keeps_ice_consent():
    """Once ICE and DTLS are done the gateway reads the selected socket
    itself (libnice let go) and keeps ICE consent on its own (RFC 7675).
    Chromium's checks must keep being answered or it takes the connection
    down; the gateway ends a call 30 s after its own last answered check.
    After 36 s the browser still hears baresip, its selected pair counts
    answers to its checks and checks it answered, and baresip still hears
    the browser."""
    wav = os.path.join(tones(LONG_WAIT + 30), "tone440_48k.wav")
    b = Baresip("b", source_wav=wav, codecs="pcmu").start()
    try:
        with Gateway() as gw:
            br = Browser({"ws": gw.url, "mode": "outgoing", "codec": "PCMU", "to": b.uri,
                          "trickle": "1", "hangup": "browser", "seconds": 4,
                          "wait": LONG_WAIT}, wav_seconds=LONG_WAIT + 30)
            try:
                m = br.wait("measured", LONG_WAIT + 40)
                done = br.wait("done", 20)
            finally:
                br.close()
            assert_heard(m["peaks"], 440, "browser after %d s" % LONG_WAIT)
            ice = [s for s in m["stats"] if s["type"] == "ice"][0]
            assert ice["state"] in ("connected", "completed"), ice
            # the pair media uses: Chromium may hold more nominated ones
            pair = [s for s in m["stats"] if s["type"] == "pair" and s["selected"]]
            assert len(pair) == 1, m["stats"]
            # a consent check may be in flight when the stats are taken
            assert pair[0]["state"] in ("succeeded", "in-progress"), pair
            print("# selected pair after %d s: %s" % (LONG_WAIT, pair[0]))
            # Chromium checks every few seconds; ours come every 4-6 s
            assert pair[0]["responsesReceived"] >= 8, pair
            assert pair[0]["requestsReceived"] >= 6, pair
            assert pair[0]["responsesSent"] >= 6, pair
            # the browser hung up: the call had not ended before
            assert done["ended"]["state"] == "ended", done
            b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    x, rate = b.received()
    assert len(x) / rate >= LONG_WAIT, "baresip got %.1f s" % (len(x) / rate)
    assert_tone(x[-4 * rate:], rate, 1000, 3, "baresip received at the end")


if __name__ == "__main__":
    tap_main([test_pcmu_trickle_baresip_hangs_up, test_opus_no_trickle_browser_hangs_up,
              test_baresip_calls_browser, test_long_call_keeps_ice_consent])
