"""The softphone page the gateway serves at / (issue 12 items 2, 4 and 5),
in headless Chromium driven by playwright-core, inside a private network
namespace (harness.md section 3). What a person would see or hear: the page
loads with no console error, its controls are visible and named, the
screenshots at desktop and phone sizes are kept; calling `echo` brings the
fake microphone's 1 kHz back; `tone` plays 1 kHz while the microphone says
440 Hz; a call to baresip carries tones both ways and hangs up from either
side; baresip calling the page rings it, and the answer click connects.
Artefacts go to $TANDEM_TEST_OUT (default tests/web/output)."""

import http.client
import os

import netns
if __name__ == "__main__":
    netns.enter()

from peers import Baresip, assert_tone, tones   # noqa: E402
from tandem_harness import Gateway, TOP_BUILDDIR, tap_main   # noqa: E402
from test_call_chromium import assert_heard   # noqa: E402
from webpage import DRIVER, Page   # noqa: E402

DRIVER_DIR = os.path.dirname(DRIVER)

OUT = os.environ.get("TANDEM_TEST_OUT") or os.path.join(TOP_BUILDDIR, "tests", "web", "output")
WAV_1K = lambda: os.path.join(tones(), "tone1k_48k.wav")   # noqa: E731
WAV_440 = lambda: os.path.join(tones(), "tone440_48k.wav")   # noqa: E731


def page_url(gw):
    return "http://127.0.0.1:%d/" % gw.ws_port


def http_get(gw, method, path):
    c = http.client.HTTPConnection("127.0.0.1", gw.ws_port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def test_static_files_headers_and_refusals():
    with Gateway() as gw:
        st, h, body = http_get(gw, "GET", "/")
        assert st == 200 and h["content-type"] == "text/html; charset=utf-8", (st, h)
        assert b"<title>Tandem softphone</title>" in body
        assert "script-src 'self'" in h["content-security-policy"], h
        assert "unsafe-inline" not in h["content-security-policy"], h
        assert h["x-content-type-options"] == "nosniff", h
        for path, mime in (("/app.js", "text/javascript"), ("/tandem.js", "text/javascript"),
                           ("/style.css", "text/css")):
            st, h, body = http_get(gw, "GET", path + "?v=1")
            assert st == 200 and h["content-type"].startswith(mime), (path, st, h)
            assert int(h["content-length"]) == len(body) > 100, (path, h)
        st, h, body = http_get(gw, "HEAD", "/tandem.js")
        assert st == 200 and body == b"" and int(h["content-length"]) > 1000, (st, h)
        for path in ("/../../etc/passwd", "/%2e%2e/etc/passwd", "/web/index.html",
                     "/index.html/", "//index.html", "/gateway/api/web.c", "/Makefile.am"):
            st, _, _ = http_get(gw, "GET", path)
            assert st == 404, (path, st)
        st, h, _ = http_get(gw, "POST", "/")
        assert st == 405 and "GET" in h["allow"], (st, h)
        log = gw.read_log()
    assert "softphone page: open http://127.0.0.1:%d/" % gw.ws_port in log, log[-2000:]


def test_page_over_https_when_cert_is_set():
    """With [websocket] cert the same port serves the page over https (a
    secure origin: browsers give it the microphone), and the page's
    WebSocket goes to wss:// on it."""
    import ssl
    import subprocess
    import tempfile
    d = tempfile.mkdtemp(prefix="tandem-cert-")
    key, cert = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    with Gateway("[websocket]\ncert = %s\nkey = %s\n" % (cert, key)) as gw:
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", gw.ws_port, timeout=10, context=ctx)
        c.request("GET", "/tandem.js")
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 200 and b"export class Tandem" in body, (r.status, body[:200])
        assert r.getheader("Content-Type").startswith("text/javascript")
        # plain http to the TLS port gets no page
        try:
            st, _, _ = http_get(gw, "GET", "/")
            assert st != 200, st
        except (OSError, http.client.HTTPException):
            pass
        log = gw.read_log()
    assert "softphone page: open https://127.0.0.1:%d/" % gw.ws_port in log, log[-1500:]
    app = open(os.path.join(os.path.dirname(DRIVER_DIR), "..", "web", "app.js")).read()
    assert "location.protocol === 'https:' ? 'wss' : 'ws'" in app


def test_page_loads_labelled_with_screenshots():
    with Gateway() as gw, Page(OUT, wav=WAV_1K()) as pg:
        pg.goto(page_url(gw))
        # what a keyboard or screen-reader user finds before logging in
        seen = pg.run("""async (page) => {
          const out = {};
          for (const name of ['User name', 'Password (if the gateway asks for one)'])
            out[name] = await page.getByLabel(name, { exact: true }).isVisible();
          out['Log in'] = await page.getByRole('button', { name: 'Log in' }).isVisible();
          return out;
        }""")
        assert all(seen.values()), seen
        pg.run("async (page, p) => page.screenshot({ path: p, fullPage: true })",
               os.path.join(OUT, "login-desktop.png"))
        pg.login("alice")
        seen = pg.run("""async (page) => {
          const out = {};
          for (const [role, name] of [['textbox', 'Number or SIP address'],
              ['button', 'Call'], ['button', 'Echo test'], ['button', 'Tone test'], ['button', 'DTMF test'],
              ['button', 'digit 5'], ['button', 'star'], ['button', 'hash'],
              ['group', 'Dial pad'], ['button', 'Log out']])
            out[role + ':' + name] = await page.getByRole(role, { name, exact: true }).isVisible();
          await page.getByText('Microphone and speaker').click();
          for (const name of ['Microphone', 'Speaker', 'Input level'])
            out['label:' + name] = await page.getByLabel(name, { exact: true }).isVisible();
          out.conn = await page.locator('#conn').textContent();
          return out;
        }""")
        assert all(seen.values()), seen
        assert seen["conn"] == "Connected as alice", seen
        for name, w, h in (("phone-desktop", 1280, 800), ("phone-mobile", 360, 740)):
            pg.run("""async (page, a) => {
              await page.setViewportSize({ width: a.w, height: a.h });
              await page.screenshot({ path: a.path, fullPage: true });
              // nothing wider than the screen: no sideways scrolling on a phone
              return page.evaluate(() => document.documentElement.scrollWidth);
            }""", {"w": w, "h": h, "path": os.path.join(OUT, name + ".png")})
        width = pg.run("async (page) => page.evaluate(() => document.documentElement.scrollWidth)")
        assert width <= 360, "page is %d px wide on a 360 px screen" % width
        errors = pg.console_errors()
    assert not errors, errors
    for name in ("login-desktop", "phone-desktop", "phone-mobile"):
        assert os.path.getsize(os.path.join(OUT, name + ".png")) > 2000, name


def call_test_destination(button, wav, hz):
    with Gateway() as gw, Page(OUT, wav=wav) as pg:
        pg.goto(page_url(gw) + "?raw=1")
        pg.login("alice")
        pg.run("""async (page, b) => {
          await page.getByRole('button', { name: b, exact: true }).click();
          await page.locator('#callstate').filter({ hasText: 'Connected' })
            .waitFor({ timeout: 20000 });
        }""", button)
        peaks = pg.peaks(4)
        # hold and transfer either work or say why in words, never silently
        said = pg.run("""async (page) => {
          const out = {};
          await page.getByRole('button', { name: 'Hold' }).click();
          await page.waitForFunction(() => !document.getElementById('error').hidden ||
            document.getElementById('hold-btn').getAttribute('aria-pressed') === 'true');
          out.hold = await page.locator('#error').isVisible() ?
            await page.locator('#error').textContent() : 'held';
          await page.getByLabel('Transfer to').fill('sip:carol@127.0.0.1');
          await page.getByRole('button', { name: 'Transfer' }).click();
          await page.waitForFunction(() => /^Transfer/.test(document.getElementById('error').textContent) ||
            document.getElementById('incall').hidden);
          out.transfer = await page.locator('#error').textContent();
          return out;
        }""") if button == "Echo test" else None
        pg.run("""async (page) => {
          await page.getByRole('button', { name: 'Hang up' }).click();
          await page.locator('#dial').waitFor({ state: 'visible', timeout: 10000 });
        }""")
        errors = pg.console_errors()
        stats = http_get(gw, "GET", "/healthz")[0]
    assert stats == 200
    assert_heard(peaks, hz, "page, calling " + button)
    if said:
        print("# the page said: hold %r, transfer %r" % (said["hold"], said["transfer"]))
        assert said["hold"] == "held" or said["hold"].startswith("Hold: "), said
        assert "{" not in said["hold"] + said["transfer"], said
        assert said["transfer"].startswith("Transfer: ") or said["transfer"] == "", said
    assert not errors, errors


def test_echo_off_is_an_error_in_words():
    """[calls] test_destinations = off: `echo` is no destination, and the
    page says so in words instead of calling anything."""
    with Gateway("[calls]\ntest_destinations = off\n") as gw, Page(OUT, wav=WAV_1K()) as pg:
        pg.goto(page_url(gw))
        pg.login("alice")
        said = pg.run("""async (page) => {
          await page.getByRole('button', { name: 'Echo test' }).click();
          await page.locator('#error').waitFor({ state: 'visible', timeout: 20000 });
          return [await page.locator('#error').textContent(), await page.locator('#incall').isVisible()];
        }""")
        errors = pg.console_errors()
    print("# the page said: %r" % said[0])
    assert said[0].startswith("Calling echo: The gateway cannot use that") and not said[1], said
    assert not errors, errors


def test_echo_brings_the_microphone_back():
    call_test_destination("Echo test", WAV_1K(), 1000)


def test_tone_plays_1k_over_a_440_microphone():
    call_test_destination("Tone test", WAV_440(), 1000)


WAIT_CONNECTED = """async (page) => {
  await page.locator('#callstate').filter({ hasText: 'Connected' }).waitFor({ timeout: 20000 });
}"""
WAIT_IDLE = """async (page) => {
  await page.locator('#dial').waitFor({ state: 'visible', timeout: 20000 });
  return page.locator('#error').isVisible() ? page.locator('#error').textContent() : '';
}"""


def page_calls_baresip(hangup):
    b = Baresip("b", source_wav=WAV_440(), codecs="pcmu").start()
    try:
        with Gateway() as gw, Page(OUT, wav=WAV_1K()) as pg:
            pg.goto(page_url(gw) + "?raw=1")
            pg.login("alice")
            pg.run("""async (page, to) => {
              await page.getByLabel('Number or SIP address').fill(to);
              await page.getByLabel('Number or SIP address').press('Enter');
            }""", b.uri)
            pg.run(WAIT_CONNECTED)
            b.wait_event("CALL_ESTABLISHED")
            peaks = pg.peaks(4)
            pg.run("async (page, p) => page.screenshot({ path: p })",
                   os.path.join(OUT, "in-call-mobile.png"))
            if hangup == "page":
                pg.run("async (page) => page.getByRole('button', { name: 'Hang up' }).click()")
            else:
                b.hangup()
            left = pg.run(WAIT_IDLE)
            b.wait_event("CALL_CLOSED")
            errors = pg.console_errors()
    finally:
        b.stop()
    assert_heard(peaks, 440, "page")
    x, rate = b.received()
    assert_tone(x, rate, 1000, 3, "baresip received")
    assert not errors, errors
    return left


def test_page_calls_baresip_and_hangs_up():
    page_calls_baresip("page")


def test_page_calls_baresip_which_hangs_up():
    page_calls_baresip("baresip")


def test_baresip_calls_the_page():
    b = Baresip("b", source_wav=WAV_440(), codecs="pcmu")
    try:
        with Gateway() as gw, Page(OUT, wav=WAV_1K()) as pg:
            pg.goto(page_url(gw) + "?raw=1")
            pg.login("alice")
            b.start()
            b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
            caller = pg.run("""async (page) => {
              await page.locator('#incoming').waitFor({ state: 'visible', timeout: 20000 });
              const who = await page.locator('#caller').textContent();
              await page.getByRole('button', { name: 'Answer' }).click();
              return who;
            }""")
            assert "sip:b@" in caller, caller
            pg.run(WAIT_CONNECTED)
            peaks = pg.peaks(4)
            b.hangup()
            pg.run(WAIT_IDLE)
            errors = pg.console_errors()
    finally:
        b.stop()
    assert_heard(peaks, 440, "page")
    x, rate = b.received()
    assert_tone(x, rate, 1000, 3, "baresip received")
    assert not errors, errors


if __name__ == "__main__":
    tap_main([test_static_files_headers_and_refusals, test_page_over_https_when_cert_is_set,
              test_page_loads_labelled_with_screenshots, test_page_calls_baresip_and_hangs_up,
              test_page_calls_baresip_which_hangs_up, test_baresip_calls_the_page,
              test_echo_off_is_an_error_in_words, test_echo_brings_the_microphone_back,
              test_tone_plays_1k_over_a_440_microphone])
