"""The softphone page (web/, served by the gateway at /) in a real browser,
driven through playwright-core (tests/web/pw_driver.mjs, one JSON command a
line) so the Python tests keep their gateway, baresip and tone helpers.
Also the in-page tone check of harness.md section 4: an AnalyserNode on
the page's remote audio, its loudest bin above 50 Hz every 250 ms."""

import json
import os
import queue
import subprocess
import threading

from tandem_harness import TOP_SRCDIR, track

DRIVER = os.path.join(TOP_SRCDIR, "tests", "web", "pw_driver.mjs")

# (frequency, dB) of the loudest bin above 50 Hz of #remote-audio, sampled
# every 250 ms for arg.seconds (the shape test_call_chromium.assert_heard
# takes).
PAGE_PEAKS = """async (page, arg) => page.evaluate(async ({seconds}) => {
  const a = document.getElementById('remote-audio');
  const t0 = performance.now();
  while (!a.srcObject && performance.now() - t0 < 10000)
    await new Promise((r) => setTimeout(r, 100));
  if (!a.srcObject) throw new Error('no remote stream on #remote-audio');
  const ctx = new AudioContext();
  await ctx.resume();
  const an = ctx.createAnalyser();
  an.fftSize = 16384;
  an.smoothingTimeConstant = 0;
  ctx.createMediaStreamSource(a.srcObject).connect(an);
  const bins = new Float32Array(an.frequencyBinCount), hz = ctx.sampleRate / an.fftSize;
  const peaks = [];
  for (let i = 0; i < seconds * 4; i++) {
    await new Promise((r) => setTimeout(r, 250));
    an.getFloatFrequencyData(bins);
    let best = -Infinity, at = 0;
    for (let k = Math.ceil(50 / hz); k < bins.length; k++)
      if (bins[k] > best) { best = bins[k]; at = k; }
    peaks.push([at * hz, best]);
  }
  await ctx.close();
  return peaks;
}, arg)"""


# What MediaRecorder captured of #remote-audio in arg.seconds, base64
# (Firefox runs no AudioContext without a sound card; harness.md s. 4):
# test_call_firefox.decode_recording reads it.
PAGE_RECORD = """async (page, arg) => page.evaluate(async ({seconds}) => {
  const a = document.getElementById('remote-audio');
  const rec = new MediaRecorder(a.srcObject);
  const chunks = [];
  rec.ondataavailable = (e) => chunks.push(e.data);
  const stopped = new Promise((r) => { rec.onstop = r; });
  rec.start(500);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  rec.stop();
  await stopped;
  const b = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
  return { mime: rec.mimeType, data: btoa(s) };
}, arg)"""


class Page:
    """One headless browser with the fake microphone playing `wav`; its
    artefacts (screenshots, driver log) go to `outdir`."""

    def __init__(self, outdir, browser="chromium", wav=None, width=1280, height=800):
        os.makedirs(outdir, exist_ok=True)
        self.outdir = outdir
        self.log = open(os.path.join(outdir, "driver-%s.log" % browser), "ab")
        self.proc = track(subprocess.Popen(["node", DRIVER], stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=self.log,
                                           start_new_session=True))
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.cmd("launch", timeout=60, browser=browser, wav=wav, dir=outdir, width=width,
                 height=height)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def cmd(self, op, timeout=60, **kw):
        kw["op"] = op
        self.proc.stdin.write((json.dumps(kw) + "\n").encode())
        self.proc.stdin.flush()
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("browser driver: no answer to %s in %d s" % (op, timeout))
        if line is None:
            raise AssertionError("browser driver exited (see %s)" % self.log.name)
        r = json.loads(line)
        if not r["ok"]:
            raise AssertionError("browser driver: %s failed: %s" % (op, r["error"]))
        return r["value"]

    def run(self, code, arg=None, timeout=60):
        """Runs `code`, the source of an async (page, arg, ctx) => value."""
        return self.cmd("run", timeout=timeout, code=code, arg=arg)

    def console_errors(self):
        return self.cmd("console")

    def peaks(self, seconds=4):
        peaks = self.run(PAGE_PEAKS, {"seconds": seconds}, timeout=seconds + 30)
        # digital silence is -Infinity dB, which JSON carries as null
        return [(f, -999.0 if db is None else db) for f, db in peaks]

    def record(self, seconds=5):
        return self.run(PAGE_RECORD, {"seconds": seconds}, timeout=seconds + 30)

    def goto(self, url):
        return self.run("async (page, url) => { await page.goto(url); return page.url(); }", url)

    def login(self, user):
        """Logs in on the page (auth = none) and waits for the phone."""
        return self.run("""async (page, user) => {
          await page.getByLabel('User name').fill(user);
          await page.getByRole('button', { name: 'Log in' }).click();
          await page.locator('#phone').waitFor({ state: 'visible', timeout: 15000 });
          return page.locator('#conn').textContent();
        }""", user)

    def close(self):
        try:
            self.cmd("close", timeout=20)
        except AssertionError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
