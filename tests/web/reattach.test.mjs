// tandem.js's reconnect and re-attach (issue 12 item 3, client side) against
// a scripted server that speaks the fixed protocol: after a reconnect the
// login result lists the user's detached calls; the client sends
// `reattach {call}` for a call whose RTCPeerConnection survived, `reattach
// {call, sdp}` with a new offer for one whose pc failed, ends locally the
// calls the gateway no longer has, and reports the ones it does not know
// (`detached`, for a reloaded page). The gateway side is tested by its own
// engineer's tests; this pins what the client sends. A stub
// RTCPeerConnection stands in for the browser's under Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const srcdir = resolve(process.env.top_srcdir || join(here, '..', '..'));
const { Tandem } = await import(join(srcdir, 'web', 'tandem.js'));

class StubPC {
  constructor() { this.connectionState = 'connected'; this.closed = false; StubPC.made++; }
  addTrack() {}
  addTransceiver() {}
  getSenders() { return []; }
  async createOffer() { return { type: 'offer', sdp: `v=0 offer ${StubPC.made}` }; }
  async setLocalDescription(d) { this.localDescription = d; }
  async setRemoteDescription(d) { this.remoteDescription = d; }
  async addIceCandidate() {}
  async getStats() { return new Map(); }
  close() { this.closed = true; this.connectionState = 'closed'; }
}
StubPC.made = 0;

function scriptedGateway() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => (p.has('tandem.v1') ? 'tandem.v1' : false) });
  const g = { wss, got: [], logins: 0, kept: [], sockets: [] };
  wss.on('connection', (ws) => {
    g.sockets.push(ws);
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      g.got.push(m);
      const reply = (result) => ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
      switch (m.method) {
        case 'login':
          g.logins++;
          reply({ user: m.params.user, expires: 3600, token: `tok${g.logins}`, calls: g.kept });
          break;
        case 'call': reply({ call: 'c1', sdp: 'v=0 answer' }); break;
        case 'reattach': reply(m.params.sdp ? { sdp: 'v=0 new answer' } : {}); break;
        default: reply({});
      }
    });
  });
  g.url = () => `ws://127.0.0.1:${wss.address().port}/ws`;
  g.drop = () => { for (const s of g.sockets) s.terminate(); g.sockets = []; };
  return g;
}

function once(t, type, pred = () => true, ms = 10000) {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no ${type}`)), ms);
    const off = t.on(type, (d) => { if (pred(d)) { clearTimeout(timer); off(); res(d); } });
  });
}

const waitFor = async (cond, ms = 10000) => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met');
};

test('after a drop: a live pc re-attaches by id, a failed one with a new offer, the rest are sorted', async () => {
  const g = scriptedGateway();
  await new Promise((r) => g.wss.on('listening', r));
  const t = new Tandem(g.url(), { WebSocket, RTCPeerConnection: StubPC, user: 'alice', password: 'pw', minBackoffMs: 50 });
  await t.connect();
  const call = await t.call('sip:bob@pbx.example');
  assert.equal(call.id, 'c1');
  assert.equal(call.pc.remoteDescription.sdp, 'v=0 answer');

  // 1. the socket drops; the gateway kept c1 and a call this client never knew
  g.kept = [{ call: 'c1', state: 'answered', peer: 'sip:bob@pbx.example', direction: 'out' },
    { call: 'c9', state: 'answered', peer: 'sip:carol@pbx.example', direction: 'in' }];
  const detached = once(t, 'detached');
  g.drop();
  const d = await detached;
  assert.deepEqual(d.calls.map((c) => c.call), ['c9']);
  const logins = g.got.filter((m) => m.method === 'login');
  assert.equal(logins.length, 2);
  assert.deepEqual(logins[1].params, { user: 'alice', token: 'tok1' }, 'the token, never the password again');
  await waitFor(() => g.got.some((m) => m.method === 'reattach'));
  const re = g.got.filter((m) => m.method === 'reattach');
  assert.deepEqual(re[0].params, { call: 'c1' }, 'a surviving pc needs no new offer');
  assert.equal(t.calls.get('c1'), call);

  // 2. its pc failed while the socket was down: a new offer, and its answer
  call.pc.connectionState = 'failed';
  const oldPc = call.pc;
  g.kept = [{ call: 'c1', state: 'answered', peer: 'sip:bob@pbx.example', direction: 'out' }];
  g.got = [];
  g.drop();
  await waitFor(() => g.got.some((m) => m.method === 'reattach'));
  const re2 = g.got.find((m) => m.method === 'reattach');
  assert.equal(re2.params.call, 'c1');
  assert.match(re2.params.sdp, /^v=0 offer/);
  await waitFor(() => call.pc !== oldPc && call.pc.remoteDescription);
  assert.equal(call.pc.remoteDescription.sdp, 'v=0 new answer');

  // 3. the grace time ran out: the gateway has no call, so it ends here
  const ended = new Promise((r) => call.addEventListener('state', (e) => e.detail.state === 'ended' && r(e.detail)));
  g.kept = [];
  g.drop();
  const e = await ended;
  assert.match(e.reason, /ended while the connection was down/);
  assert.equal(t.calls.size, 0);
  t.close();
  g.wss.close();
});

test('a reloaded page re-attaches a kept call with a new offer', async () => {
  const g = scriptedGateway();
  await new Promise((r) => g.wss.on('listening', r));
  g.kept = [{ call: 'c7', state: 'answered', peer: 'sip:dave@pbx.example', direction: 'in' }];
  const t = new Tandem(g.url(), { WebSocket, RTCPeerConnection: StubPC, user: 'alice' });
  const r = await t.connect();
  assert.deepEqual(r.calls, g.kept);
  const call = await t.reattach('c7', { peer: 'sip:dave@pbx.example', direction: 'in' });
  const re = g.got.find((m) => m.method === 'reattach');
  assert.equal(re.params.call, 'c7');
  assert.match(re.params.sdp, /^v=0 offer/);
  assert.equal(call.state, 'answered');
  assert.equal(call.direction, 'in');
  assert.equal(call.pc.remoteDescription.sdp, 'v=0 new answer');
  t.close();
  g.wss.close();
});
