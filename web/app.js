// The softphone page's logic: the worked example of tandem.js. It keeps
// the login token and the current call id in sessionStorage, so a reloaded
// page logs in again and re-attaches its call (the gateway keeps it for its
// grace time). Errors are shown in words (describeError), never only logged.
import { Tandem, TandemError, describeError } from './tandem.js';

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
const params = new URLSearchParams(location.search);
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${params.get('ws') || '/ws'}`;

let tandem = null;
let call = null;         // the Call on screen
let mic = null;          // MediaStream
let ring = null;         // ring tone {ctx, timer}
let meter = null;        // {ctx, timer}
let tick = null;         // timer and quality interval

function showError(e) {
  const el = $('error');
  if (!e) { el.hidden = true; el.textContent = ''; return; }
  el.textContent = typeof e === 'string' ? e : describeError(e);
  el.hidden = false;
}

function setConn(text) { $('conn').textContent = text; }

// ------------------------------------------------------------ devices

async function getMic() {
  if (mic && mic.getAudioTracks().some((t) => t.readyState === 'live')) return mic;
  const id = $('mic').value;
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (id) audio.deviceId = { exact: id };
  if (params.has('raw')) Object.assign(audio, { echoCancellation: false, noiseSuppression: false, autoGainControl: false });
  mic = await navigator.mediaDevices.getUserMedia({ audio });
  startMeter(mic);
  listDevices();
  return mic;
}

async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
  const devs = await navigator.mediaDevices.enumerateDevices();
  for (const [sel, kind] of [[$('mic'), 'audioinput'], [$('speaker'), 'audiooutput']]) {
    const keep = sel.value;
    sel.replaceChildren();
    for (const d of devs.filter((x) => x.kind === kind)) {
      const o = document.createElement('option');
      o.value = d.deviceId;
      o.textContent = d.label || (kind === 'audioinput' ? 'Microphone' : 'Speaker');
      sel.append(o);
    }
    if (keep) sel.value = keep;
  }
  $('speaker').disabled = !('setSinkId' in HTMLMediaElement.prototype);
}

function startMeter(stream) {
  stopMeter();
  const ctx = new AudioContext();
  const an = ctx.createAnalyser();
  an.fftSize = 1024;
  ctx.createMediaStreamSource(stream).connect(an);
  const buf = new Float32Array(an.fftSize);
  const timer = setInterval(() => {
    an.getFloatTimeDomainData(buf);
    let s = 0;
    for (const v of buf) s += v * v;
    const rms = Math.sqrt(s / buf.length);
    $('level').value = Math.min(1, rms * 3);
    $('level').textContent = rms.toFixed(2);
  }, 100);
  meter = { ctx, timer };
}

function stopMeter() {
  if (!meter) return;
  clearInterval(meter.timer);
  meter.ctx.close();
  meter = null;
}

$('mic').addEventListener('change', async () => {
  try {
    if (mic) mic.getTracks().forEach((t) => t.stop());
    mic = null;
    const s = await getMic();
    if (call && call.pc) await call.replaceStream(s);
  } catch (e) { showError(e); }
});

$('speaker').addEventListener('change', () => {
  $('remote-audio').setSinkId($('speaker').value).catch(showError);
});

// ------------------------------------------------------------ ring tone

// North American ring: 440 + 480 Hz, 2 s on, 4 s off, made with WebAudio
// so the page needs no sound file.
function startRing() {
  stopRing();
  const ctx = new AudioContext();
  const gain = ctx.createGain();
  gain.gain.value = 0;
  gain.connect(ctx.destination);
  for (const f of [440, 480]) {
    const o = ctx.createOscillator();
    o.frequency.value = f;
    o.connect(gain);
    o.start();
  }
  const burst = () => {
    const t = ctx.currentTime;
    gain.gain.setValueAtTime(0.1, t);
    gain.gain.setValueAtTime(0, t + 2);
  };
  burst();
  ring = { ctx, timer: setInterval(burst, 6000) };
}

function stopRing() {
  if (!ring) return;
  clearInterval(ring.timer);
  ring.ctx.close();
  ring = null;
}

// ------------------------------------------------------------ pads

function makePad(el, onKey) {
  for (const k of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = k;
    b.setAttribute('aria-label', k === '*' ? 'star' : k === '#' ? 'hash' : `digit ${k}`);
    b.addEventListener('click', () => onKey(k));
    el.append(b);
  }
}

makePad($('dialpad'), (k) => { $('to').value += k; $('to').focus(); });
makePad($('dtmfpad'), (k) => {
  if (call) call.dtmf(k).catch((e) => showError(`Keypad: ${describeError(e)}`));
});

// ------------------------------------------------------------ call view

function fmt(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

async function refresh() {
  if (!call) return;
  $('timer').textContent = call.answeredAt ? fmt(Date.now() - call.answeredAt) : '0:00';
  try {
    const s = await call.stats();
    $('q-codec').textContent = s.codec || '-';
    const g = s.gateway;
    $('q-gw').textContent = g ? (g.sip_codec || g.codec || (g.sip && g.sip.codec) || 'ok') : 'not reported';
    $('q-rtt').textContent = s.rtt_ms === null ? '-' : `${s.rtt_ms} ms`;
    $('q-loss').textContent = String(s.packets_lost);
    $('q-jitter').textContent = s.jitter_ms === null ? '-' : `${s.jitter_ms} ms`;
  } catch (e) { /* the call ended under us */ }
}

const STATE_WORDS = {
  calling: 'Calling…', trying: 'Trying…', ringing: 'Ringing…', early: 'Early media',
  answered: 'Connected', ended: 'Ended', incoming: 'Incoming',
};

function attach(c) {
  call = c;
  store.setItem('tandem.call', JSON.stringify({ id: c.id, peer: c.peer, direction: c.direction }));
  $('incall').hidden = false;
  $('dial').hidden = true;
  $('peer').textContent = c.peerDisplay || c.peer;
  $('callstate').textContent = STATE_WORDS[c.state] || c.state;
  const play = (stream) => {
    const a = $('remote-audio');
    a.srcObject = stream;
    a.play().catch(() => { /* autoplay: the next click starts it */ });
  };
  if (c.remoteStream) play(c.remoteStream);
  c.addEventListener('track', (ev) => play(ev.detail.stream));
  c.addEventListener('dtmf', (ev) => {
    $('callstate').textContent = `${STATE_WORDS[c.state] || c.state}: received digit ${ev.detail.digit}`;
  });
  c.addEventListener('state', (ev) => {
    const d = ev.detail;
    $('callstate').textContent = STATE_WORDS[d.state] || d.state;
    if (d.state === 'ended') {
      if (d.code >= 400 || (d.reason && d.reason !== 'hung up' && d.code !== 200))
        showError(`Call ended: ${d.reason || 'code ' + d.code}${d.code ? ` (${d.code})` : ''}`);
      detach();
    }
  });
  clearInterval(tick);
  tick = setInterval(refresh, 1000);
  refresh();
  $('hangup-btn').focus();
}

function detach() {
  call = null;
  store.removeItem('tandem.call');
  clearInterval(tick);
  tick = null;
  $('incall').hidden = true;
  $('dial').hidden = false;
  $('mute-btn').setAttribute('aria-pressed', 'false');
  $('mute-btn').textContent = 'Mute';
  $('hold-btn').setAttribute('aria-pressed', 'false');
  $('hold-btn').textContent = 'Hold';
  $('remote-audio').srcObject = null;
  $('to').focus();
}

async function place(to) {
  showError(null);
  to = to.trim();
  if (!to) { showError('Type a number or SIP address first.'); return; }
  try {
    const stream = await getMic();
    const c = await tandem.call(to, { stream });
    attach(c);
  } catch (e) { showError(`Calling ${to}: ${describeError(e)}`); }
}

$('dial').addEventListener('submit', (ev) => { ev.preventDefault(); place($('to').value); });
$('echo-btn').addEventListener('click', () => place('echo'));
$('tone-btn').addEventListener('click', () => place('tone'));
$('dtmf-btn').addEventListener('click', () => place('dtmf'));
$('hangup-btn').addEventListener('click', () => {
  if (call) call.hangup().catch(showError);
});
$('mute-btn').addEventListener('click', () => {
  if (!call) return;
  call.mute(!call.muted);
  $('mute-btn').setAttribute('aria-pressed', String(call.muted));
  $('mute-btn').textContent = call.muted ? 'Unmute' : 'Mute';
});
$('hold-btn').addEventListener('click', async () => {
  if (!call) return;
  const held = $('hold-btn').getAttribute('aria-pressed') === 'true';
  try {
    await (held ? call.resume() : call.hold());
    $('hold-btn').setAttribute('aria-pressed', String(!held));
    $('hold-btn').textContent = held ? 'Hold' : 'Resume';
  } catch (e) { showError(`${held ? 'Resume' : 'Hold'}: ${describeError(e)}`); }
});
$('keypad-btn').addEventListener('click', () => {
  const open = $('dtmfpad').hidden;
  $('dtmfpad').hidden = !open;
  $('keypad-btn').setAttribute('aria-expanded', String(open));
});
// with the keypad open, the keyboard's digits go out as DTMF too
document.addEventListener('keydown', (ev) => {
  if (!call || $('dtmfpad').hidden || ev.target.tagName === 'INPUT' || !/^[0-9*#]$/.test(ev.key)) return;
  call.dtmf(ev.key).catch((e) => showError(`Keypad: ${describeError(e)}`));
});
$('transfer').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!call) return;
  try {
    await call.transfer($('transfer-to').value.trim());
  } catch (e) { showError(`Transfer: ${describeError(e)}`); }
});

// ------------------------------------------------------------ incoming

let ringing = null;

function onIncoming(c) {
  if (call || ringing) { c.reject(486).catch(() => {}); return; }
  ringing = c;
  $('caller').textContent = c.peerDisplay ? `${c.peerDisplay} <${c.peer}>` : c.peer;
  $('incoming').hidden = false;
  startRing();
  $('answer-btn').focus();
  c.addEventListener('state', (ev) => {
    if (ev.detail.state === 'ended' && ringing === c) {
      ringing = null;
      $('incoming').hidden = true;
      stopRing();
    }
  });
}

$('answer-btn').addEventListener('click', async () => {
  const c = ringing;
  if (!c) return;
  ringing = null;
  stopRing();
  $('incoming').hidden = true;
  try {
    const stream = await getMic();
    await c.answer({ stream });
    attach(c);
  } catch (e) { showError(e); }
});
$('reject-btn').addEventListener('click', () => {
  const c = ringing;
  ringing = null;
  stopRing();
  $('incoming').hidden = true;
  if (c) c.reject().catch(showError);
});

// ------------------------------------------------------------ session

async function reattachSaved(r) {
  const saved = JSON.parse(store.getItem('tandem.call') || 'null');
  if (!saved) return;
  const kept = (r.calls || []).find((c) => c.call === saved.id);
  if (!kept) { store.removeItem('tandem.call'); return; }
  try {
    const c = await tandem.reattach(saved.id, { stream: await getMic(), peer: kept.peer || saved.peer,
      direction: kept.direction || saved.direction, state: kept.state });
    attach(c);
  } catch (e) { showError(`Could not get the call back: ${describeError(e)}`); }
}

async function login(user, password) {
  showError(null);
  if (tandem) tandem.close();
  const token = store.getItem('tandem.token');
  tandem = new Tandem(wsUrl, { user, password: password || undefined,
    token: !password && store.getItem('tandem.user') === user ? token || undefined : undefined });
  tandem.on('connection', (d) => {
    const words = { connecting: 'Connecting…', open: 'Logging in…', ready: `Connected as ${user}`,
      reconnecting: `Connection lost: retrying in ${Math.round((d.delayMs || 0) / 1000)} s`, closed: 'Not connected' };
    setConn(words[d.state] || d.state);
    if (d.state === 'ready' && tandem.token) store.setItem('tandem.token', tandem.token);
  });
  tandem.on('incoming', (d) => onIncoming(d.call));
  tandem.on('error', (d) => showError(d.error));
  tandem.on('detached', () => reattachSaved({ calls: tandem.detached || [] }));
  try {
    const r = await tandem.connect();
    store.setItem('tandem.user', user);
    if (tandem.token) store.setItem('tandem.token', tandem.token);
    $('me').textContent = `(${user})`;
    $('login').hidden = true;
    $('phone').hidden = false;
    $('to').focus();
    listDevices();
    await reattachSaved(r);
  } catch (e) {
    tandem.close();
    store.removeItem('tandem.token');
    if (e instanceof TandemError && e.code === 401)
      showError(password ? 'Wrong user name or password.' : 'This gateway needs a password.');
    else showError(e);
    $('password').focus();
  }
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  login($('user').value.trim(), $('password').value);
  $('password').value = '';
});

$('logout-btn').addEventListener('click', () => {
  if (call) call.hangup().catch(() => {});
  store.clear();
  if (tandem) tandem.close();
  tandem = null;
  $('phone').hidden = true;
  $('login').hidden = false;
  $('user').focus();
});

// a reloaded page logs in again by itself, with its token
const savedUser = store.getItem('tandem.user');
if (savedUser) {
  $('user').value = savedUser;
  login(savedUser, '');
} else {
  $('user').focus();
}
