"""Calls that survive a reload, with the served page and tandem.js (issue
12 items 3 and 5), in headless Chromium inside a private network namespace
like test_web_page.py. The page (logged in, [calls] reattach_grace short)
calls baresip, tones both ways; the page reloads mid-call: within 5 s the
call is back (app.js finds it in sessionStorage, tandem.js re-attaches it
with a new RTCPeerConnection) and 440 Hz plays again, and baresip saw no
BYE. Then the gateway closes the page's WebSocket (the page sends ten
frames that are not JSON, a test hook wrapping WebSocket keeps the socket
at hand; the gateway closes with 1008 after ten protocol errors in a row):
tandem.js reconnects, re-attaches its live RTCPeerConnection and the call
carries on. Last the page goes away: the call ends no sooner than the grace
time, and baresip gets its BYE."""

import time

import netns
if __name__ == "__main__":
    netns.enter()

from peers import Baresip, assert_tone   # noqa: E402
from tandem_harness import Gateway, tap_main   # noqa: E402
from test_call_chromium import assert_heard   # noqa: E402
from test_reattach import baresip_closed   # noqa: E402
from test_web_page import OUT, WAIT_CONNECTED, WAV_1K, WAV_440, page_url   # noqa: E402
from webpage import Page   # noqa: E402

GRACE = 6

# every WebSocket the page opens, kept in window.__tandemSockets (before
# any page script runs, on every load)
KEEP_SOCKETS = """async (page, arg, ctx) => {
  await ctx.addInitScript(() => {
    const Native = window.WebSocket;
    window.__tandemSockets = [];
    window.WebSocket = class extends Native {
      constructor(...a) { super(...a); window.__tandemSockets.push(this); }
    };
  });
}"""

# ten frames that are not JSON: the gateway answers each with an error and
# closes the socket on the tenth (protocol.md); returns the close code
GATEWAY_CLOSES = """async (page) => page.evaluate(async () => {
  const ws = window.__tandemSockets[window.__tandemSockets.length - 1];
  if (!ws || ws.readyState !== 1) throw new Error('no open WebSocket on the page');
  const closed = new Promise((r) => ws.addEventListener('close', (e) => r(e.code)));
  for (let i = 0; i < 10; i++) ws.send('this is not JSON');
  return await Promise.race([closed, new Promise((r) => setTimeout(() => r(-1), 10000))]);
})"""

RELOAD = """async (page) => {
  const t0 = Date.now();
  await page.reload();
  await page.locator('#callstate').filter({ hasText: 'Connected' }).waitFor({ timeout: 20000 });
  return Date.now() - t0;
}"""

WAIT_READY_AGAIN = """async (page) => {
  const t0 = Date.now();
  await page.waitForFunction(() => /^Connection lost/.test(document.getElementById('conn').textContent),
    null, { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById('conn').textContent.startsWith('Connected as') &&
    window.__tandemSockets.length >= 2, null, { timeout: 20000 });
  return { ms: Date.now() - t0, state: await page.locator('#callstate').textContent(),
           error: await page.locator('#error').isVisible() ? await page.locator('#error').textContent() : '' };
}"""


def last_sound(x, rate, seconds):
    """The `seconds` of x that end where its last 100 ms with sound ends
    (what baresip heard before the page went away and only silence or
    nothing came)."""
    step = rate // 10
    end = len(x)
    while end >= step and abs(x[end - step:end]).max() < 0.01:
        end -= step
    return x[max(0, end - int(seconds * rate)):end]


def test_reload_drop_and_grace_with_the_page():
    b = Baresip("b", source_wav=WAV_440(), codecs="pcmu").start()
    try:
        with Gateway("[calls]\nreattach_grace = %d\n" % GRACE) as gw, \
                Page(OUT, wav=WAV_1K()) as pg:
            pg.run(KEEP_SOCKETS)
            pg.goto(page_url(gw) + "?raw=1")
            pg.login("alice")
            pg.run("""async (page, to) => {
              await page.getByLabel('Number or SIP address').fill(to);
              await page.getByLabel('Number or SIP address').press('Enter');
            }""", b.uri)
            pg.run(WAIT_CONNECTED)
            b.wait_event("CALL_ESTABLISHED")
            before = pg.peaks(3)

            back_ms = pg.run(RELOAD)
            print("# the call is back %.2f s after the reload" % (back_ms / 1000), flush=True)
            after_reload = pg.peaks(3)
            assert not baresip_closed(b), "baresip saw the call close on the reload"

            code = pg.run(GATEWAY_CLOSES)
            assert code == 1008, "the gateway closed the page's WebSocket with %r" % code
            again = pg.run(WAIT_READY_AGAIN)
            print("# reconnected %.2f s after the gateway closed the socket" % (again["ms"] / 1000),
                  flush=True)
            # the page shows the gateway's answer to our frames, nothing else
            assert again["state"] == "Connected", again
            assert not again["error"] or again["error"].startswith("invalid JSON"), again
            after_drop = pg.peaks(3)
            assert not baresip_closed(b), "baresip saw the call close with the WebSocket"

            t0 = time.monotonic()
            pg.goto("about:blank")
            time.sleep(GRACE - 2)
            assert not baresip_closed(b), "baresip saw the call close within the grace"
            b.wait_event("CALL_CLOSED", timeout=GRACE + 15)
            took = time.monotonic() - t0
            print("# BYE %.2f s after the page went away" % took, flush=True)
            errors = pg.console_errors()
    finally:
        b.stop()
    assert_heard(before, 440, "page before the reload")
    assert back_ms < 5000, "the call came back %d ms after the reload" % back_ms
    assert_heard(after_reload, 440, "page after the reload")
    assert_heard(after_drop, 440, "page after the gateway closed its WebSocket")
    x, rate = b.received()
    assert_tone(last_sound(x, rate, 3), rate, 1000, 2, "baresip received before the page left")
    assert GRACE - 1 <= took <= GRACE + 15, took
    # the drop is ours: what the page logs about it is no error
    errors = [e for e in errors if "WebSocket" not in e]
    assert not errors, errors


if __name__ == "__main__":
    tap_main([test_reload_drop_and_grace_with_the_page])
