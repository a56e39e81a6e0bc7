// A line-oriented bridge from the Python integration tests to playwright-core
// (tests/integration/webpage.py): the Python side keeps its helpers for
// baresip, the gateway and the tone checks, and sends this process one JSON
// command a line; each answer is one JSON line {ok, value} or {ok:false,
// error}. Commands: launch {browser, wav, dir, width, height}, run {code,
// arg} (code is the source of an async function (page, arg) => value),
// console (the errors seen so far), close.
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

const pw = await import(process.env.PLAYWRIGHT_CORE || 'playwright-core');
let ctx = null, page = null, profile = null;
const errors = [];

function watch(p) {
  p.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  p.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  p.on('requestfailed', (r) => errors.push(`requestfailed: ${r.url()} ${r.failure() && r.failure().errorText}`));
}

async function launch({ browser = 'chromium', wav, dir, width = 1280, height = 800 }) {
  profile = mkdtempSync(join(tmpdir(), 'tandem-pw-'));
  if (browser === 'firefox') {
    // over WebDriver BiDi, through firefox-shim.mjs (see there why)
    ctx = await pw.firefox.launchPersistentContext(profile, {
      channel: 'moz-firefox', executablePath: join(here, 'firefox-shim.mjs'), headless: true,
      viewport: { width, height },
      firefoxUserPrefs: {
        'media.navigator.streams.fake': true, 'media.navigator.permission.disabled': true,
        'media.peerconnection.ice.loopback': true,
        'media.peerconnection.ice.obfuscate_host_addresses': false,
        'media.autoplay.default': 0, 'media.autoplay.block-webaudio': false,
        'media.cubeb.force_null_context': true,
        'media.autoplay.blocking_policy': 0,
        'media.autoplay.enabled.user-gestures-needed': false,
      },
    });
  } else {
    ctx = await pw.chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true, viewport: { width, height },
      ignoreDefaultArgs: ['--mute-audio'],
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        ...(wav ? ['--use-file-for-fake-audio-capture=' + wav] : []),
        '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
    });
    await ctx.grantPermissions(['microphone']);
  }
  page = ctx.pages()[0] || await ctx.newPage();
  watch(page);
  ctx.on('page', watch);
  return true;
}

const ops = {
  launch,
  async run({ code, arg }) {
    const fn = (0, eval)(`(${code})`);
    return await fn(page, arg, ctx);
  },
  console() { return errors.splice(0); },
  async close() {
    if (ctx) await ctx.close();
    ctx = null;
    if (profile) rmSync(profile, { recursive: true, force: true });
    return true;
  },
};

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let cmd;
  try {
    cmd = JSON.parse(line);
    const value = await ops[cmd.op](cmd);
    process.stdout.write(JSON.stringify({ ok: true, value: value === undefined ? null : value }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.stack || e) }) + '\n');
  }
  if (cmd && cmd.op === 'close') break;
}
process.exit(0);
