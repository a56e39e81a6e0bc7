// tandem.js against a real gateway (issue 12 item 5): node's test runner
// starts ./tandem on free ports with its own config, and the library talks
// to it through the `ws` package (Node 18 has no global WebSocket). It
// checks what a page would rely on: the login result, errors that carry
// the gateway's code and message, connection events, and the reconnect
// with back-off and a token login after the gateway closed the socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const srcdir = resolve(process.env.top_srcdir || join(here, '..', '..'));
const builddir = resolve(process.env.top_builddir || srcdir);
const { Tandem, TandemError, describeError } = await import(join(srcdir, 'web', 'tandem.js'));
const TANDEM = process.env.TANDEM_BIN || join(builddir, 'tandem');
const PASSWORD = 'correct horse battery';

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function startGateway(extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-js-'));
  const ws = await freePort();
  let sip = await freePort();
  while (sip === ws) sip = await freePort();
  const base = 30000 + Math.floor(Math.random() * 150) * 200;
  const conf = join(dir, 'tandem.conf');
  writeFileSync(conf, `[log]\nlevel = debug\nfile = ${join(dir, 'tandem.log')}\n` +
    `[websocket]\nport = ${ws}\n[sip]\nport = ${sip}\n` +
    `[media]\nport_min = ${base}\nport_max = ${base + 199}\n${extra}\n`);
  const proc = spawn(TANDEM, ['--config', conf], { stdio: 'ignore' });
  const url = `ws://127.0.0.1:${ws}/ws`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`tandem exited ${proc.exitCode}: ${readFileSync(join(dir, 'tandem.log'), 'utf8').slice(-1500)}`);
    try {
      const t = new Tandem(url, { WebSocket, reconnect: false });
      await t.connect();
      await t.ping();
      t.close();
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url, proc, dir, sip,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function nextEvent(target, type, pred = () => true, ms = 15000) {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => { off(); rej(new Error(`no ${type} event in ${ms} ms`)); }, ms);
    const off = target.on(type, (d) => { if (pred(d)) { clearTimeout(timer); off(); res(d); } });
  });
}

let open, users;

before(async () => {
  open = await startGateway();
  const hash = execFileSync(TANDEM, ['--hash-password'], { input: PASSWORD + '\n' }).toString().trim();
  users = await startGateway(`[auth]\nmode = users\n[users]\nalice = ${hash}\n`);
});

after(async () => {
  await open.stop();
  await users.stop();
});

test('connects with tandem.v1 and logs in without a password under auth = none', async () => {
  const t = new Tandem(open.url, { WebSocket, user: 'alice', reconnect: false });
  const states = [];
  t.on('connection', (d) => states.push(d.state));
  const r = await t.connect();
  assert.equal(r.user, 'alice');
  assert.equal(r.token, undefined);
  assert.equal(t.ws.protocol, 'tandem.v1');
  assert.deepEqual(await t.ping(), {});
  const st = await t.gatewayStats();
  assert.ok(st.api.logged_in >= 1, JSON.stringify(st));
  assert.deepEqual(states, ['connecting', 'open', 'ready']);
  t.close();
  assert.equal(states.at(-1), 'closed');
});

test('errors carry the gateway\'s code and message', async () => {
  const t = new Tandem(open.url, { WebSocket, user: 'alice', reconnect: false });
  await t.connect();
  await assert.rejects(t.request('pnig'), (e) => e instanceof TandemError && e.code === -32601 &&
    /pnig/.test(e.message) && e.method === 'pnig');
  await assert.rejects(t.request('call', { sdp: 'v=0' }), (e) => e.code === -32602 && /to/.test(e.message));
  await assert.rejects(t.request('hangup', { call: 'nope' }), (e) => e.code === 404 && /nope/.test(e.message));
  // the page's words for an error the gateway has not got yet
  const e = await t.request('hold', { call: 'nope' }).catch((x) => x);
  assert.ok(e instanceof TandemError && [404, 503].includes(e.code), String(e));
  assert.match(describeError(new TandemError(403, 'params.to: the dial plan does not allow calls')), /dial plan/);
  assert.match(describeError(new TandemError(503, 'hold needs the hold feature')), /cannot do this now: hold needs/);
  t.close();
  await assert.rejects(t.ping(), (x) => x.code === TandemError.DISCONNECTED);
});

test('message() goes out as a SIP MESSAGE and arrives as a message event', async () => {
  // the gateway sends to its own SIP port: a real MESSAGE both ways
  const a = new Tandem(open.url, { WebSocket, user: 'alice', reconnect: false });
  const b = new Tandem(open.url, { WebSocket, user: 'bob', reconnect: false });
  await a.connect();
  await b.connect();
  const got = nextEvent(b, 'message', (d) => d.body === 'hello bob \u00e9');
  assert.deepEqual(await a.message(`sip:bob@127.0.0.1:${open.sip}`, 'hello bob \u00e9'), {});
  const m = await got;
  assert.match(m.from, /^sip:alice@/);
  assert.match(m.content_type, /^text\/plain/);
  assert.equal(m.call, null);
  // nobody logged in as carol: the gateway's own 480 comes back as the error
  await assert.rejects(a.message(`sip:carol@127.0.0.1:${open.sip}`, 'x'),
    (e) => e instanceof TandemError && e.code === 480);
  // options: the content type goes with it, and an account reaches the
  // gateway's check (no [accounts] entry here: 404 naming it)
  const typed = nextEvent(b, 'message', (d) => d.body === '{"n":1}');
  assert.deepEqual(await a.message(`sip:bob@127.0.0.1:${open.sip}`, '{"n":1}',
    { contentType: 'application/json' }), {});
  assert.equal((await typed).content_type, 'application/json');
  await assert.rejects(a.message(`sip:bob@127.0.0.1:${open.sip}`, 'x', { account: 'desk9' }),
    (e) => e instanceof TandemError && e.code === 404 && /desk9/.test(e.message));
  a.close();
  b.close();
});

test('a wrong password is a 401 and stops reconnecting; the right one gives a token', async () => {
  const bad = new Tandem(users.url, { WebSocket, user: 'alice', password: 'wrong', minBackoffMs: 50 });
  await assert.rejects(bad.connect(), (e) => e.code === 401);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(bad.state, 'closed');
  const t = new Tandem(users.url, { WebSocket, user: 'alice', password: PASSWORD, reconnect: false });
  const r = await t.connect();
  assert.equal(r.user, 'alice');
  assert.ok(typeof r.token === 'string' && r.token.length > 20, JSON.stringify(r));
  assert.equal(t.token, r.token);
  t.close();
});

test('reconnects with back-off after the gateway closes the socket, logging in with its token', async () => {
  const t = new Tandem(users.url, { WebSocket, user: 'alice', password: PASSWORD, minBackoffMs: 200 });
  await t.connect();
  const first = t.token;
  const reconnecting = nextEvent(t, 'connection', (d) => d.state === 'reconnecting');
  const ready = nextEvent(t, 'connection', (d) => d.state === 'ready', 20000);
  // ten protocol errors in a row: the gateway closes with 1008
  for (let i = 0; i < 10; i++) t.ws.send('not json');
  const r = await reconnecting;
  assert.equal(r.code, 1008);
  assert.ok(r.delayMs >= 150 && r.delayMs <= 250, `first delay ${r.delayMs} ms`);
  await ready;
  assert.notEqual(t.token, first, 'a token logs in once: a new one must have come');
  assert.deepEqual(await t.ping(), {});
  t.close();
});

test('calls without an RTCPeerConnection fail with a clear error', async () => {
  const t = new Tandem(open.url, { WebSocket, user: 'alice', reconnect: false });
  await t.connect();
  await assert.rejects(t.call('echo'), (e) => e.code === TandemError.MEDIA && /RTCPeerConnection/.test(e.message));
  t.close();
});

test('renegotiate() sends the pc\'s new offer and rolls the pc back when the gateway refuses', async () => {
  const { Call } = await import(join(srcdir, 'web', 'tandem.js'));
  const t = new Tandem(open.url, { WebSocket, user: 'alice', reconnect: false });
  await t.connect();
  const applied = [];
  const call = new Call(t, 'nope', 'out', 'sip:x@127.0.0.1');
  call.pc = {   // what renegotiate() uses of an RTCPeerConnection
    localDescription: null,
    async createOffer() { return { type: 'offer', sdp: 'v=0\r\n' }; },
    async setLocalDescription(d) { applied.push(d.type); if (d.type === 'offer') this.localDescription = d; },
    async setRemoteDescription(d) { applied.push('remote ' + d.type); },
  };
  // the gateway's own answer: no such call on this socket
  await assert.rejects(call.renegotiate(), (e) => e.code === 404 && /nope/.test(e.message) &&
    e.method === 'renegotiate');
  assert.deepEqual(applied, ['offer', 'rollback']);
  t.close();
});
