"""The softphone page in headless Firefox ESR (issue 12 item 5), driven by
playwright-core over WebDriver BiDi through tests/web/firefox-shim.mjs, in
a namespace with a private LAN (Firefox's nICEr gathers no loopback
candidates: netns.enter_private_lan). The page loads with no console error,
and calling `echo` brings Firefox's fake microphone (1 kHz) back, checked on
what MediaRecorder captured of the page's remote audio (Firefox runs no
AudioContext without a sound card)."""

import os

import netns
if __name__ == "__main__":
    netns.enter_private_lan()

from peers import assert_tone   # noqa: E402
from tandem_harness import Gateway, tap_main   # noqa: E402
from test_call_firefox import decode_recording   # noqa: E402
from test_web_page import OUT, page_url   # noqa: E402
from webpage import Page   # noqa: E402


def test_firefox_echo_and_no_console_error():
    # the gateway's ICE on the namespace's LAN, where Firefox gathers
    with Gateway("[media]\nice_addresses = 10.77.0.1\n") as gw, \
            Page(OUT, browser="firefox") as pg:
        pg.goto(page_url(gw) + "?raw=1")
        pg.login("alice")
        pg.run("""async (page) => {
          await page.getByRole('button', { name: 'Echo test', exact: true }).click();
          await page.locator('#callstate').filter({ hasText: 'Connected' })
            .waitFor({ timeout: 20000 });
        }""")
        rec = pg.record(5)
        errors = pg.console_errors()
        pg.run("""async (page) => {
          await page.getByRole('button', { name: 'Hang up' }).click();
          await page.locator('#dial').waitFor({ state: 'visible', timeout: 10000 });
        }""")
        errors += pg.console_errors()
        # last: over BiDi, playwright's screenshot injects a <style> that the
        # page's CSP refuses and reports; that report is the test's doing
        pg.run("async (page, p) => page.screenshot({ path: p })",
               os.path.join(OUT, "firefox-after-call.png"))
    x, rate = decode_recording(rec)
    assert_tone(x, rate, 1000, 3, "firefox page, calling echo")
    assert not errors, errors


if __name__ == "__main__":
    tap_main([test_firefox_echo_and_no_console_error])
