// tandem.js: the browser (and Node) client of the Tandem gateway.
//
// Why this file exists: docs/protocol.md describes a JSON-RPC 2.0 protocol
// over a WebSocket (subprotocol tandem.v1) plus an RTCPeerConnection per
// call; every page would otherwise re-implement request ids, trickle ICE
// both ways, reconnects and re-attaching calls. This module does it once,
// with no dependency and no build step: `import {Tandem} from './tandem.js'`.
//
// Invariants: every request either resolves with the gateway's result or
// rejects with a TandemError carrying the gateway's code and message (or a
// local code: TandemError.TIMEOUT, .DISCONNECTED); nothing fails silently.
// Events are DOM-style (EventTarget), their data in `event.detail`.

const SUBPROTOCOL = 'tandem.v1';

/** An error answered by the gateway (code and message as it sent them), or
 * a local failure with one of the negative codes below. */
export class TandemError extends Error {
  constructor(code, message, method) {
    super(message);
    this.name = 'TandemError';
    this.code = code;
    this.method = method || null;
  }
}
TandemError.TIMEOUT = -1;        // no answer in time
TandemError.DISCONNECTED = -2;   // the socket closed before the answer
TandemError.MEDIA = -3;          // the browser's media (getUserMedia, RTCPeerConnection)

function emit(target, type, detail) {
  target.dispatchEvent(new CustomEvent(type, { detail }));
}

/** One call, either way. Its `pc` is the RTCPeerConnection (null in Node
 * or before answer), `remoteStream` the audio to play. Events:
 * `state` {state, code, reason}, `dtmf` {digit, duration_ms, source},
 * `info` {content_type, body}, `message` {from, to, body, content_type},
 * `track` {stream}. */
export class Call extends EventTarget {
  constructor(tandem, id, direction, peer) {
    super();
    this.tandem = tandem;
    this.id = id;
    this.direction = direction;   // 'in' | 'out'
    this.peer = peer || '';
    this.peerDisplay = '';
    this.headers = {};
    this.state = direction === 'in' ? 'incoming' : 'calling';
    this.code = 0;
    this.reason = '';
    this.pc = null;
    this.remoteStream = null;
    this.localStream = null;
    this.remoteOffer = null;
    this.muted = false;
    this.answeredAt = 0;
    this._pendingCands = [];
  }

  /** Answers an incoming call with the given local stream (microphone). */
  async answer({ stream } = {}) {
    if (this.direction !== 'in' || !this.remoteOffer)
      throw new TandemError(409, 'only a ringing incoming call can be answered', 'answer');
    const pc = this.tandem._newPc(this, stream);
    await pc.setRemoteDescription({ type: 'offer', sdp: this.remoteOffer });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await this.tandem.request('answer', { call: this.id, sdp: pc.localDescription.sdp });
    this._flushCandidates();
  }

  /** Rejects an incoming call; code is a SIP status (default 486). */
  reject(code) {
    const p = { call: this.id };
    if (code) p.code = code;
    return this.tandem.request('reject', p).finally(() => this._close());
  }

  /** Hangs up in any state. */
  hangup() {
    return this.tandem.request('hangup', { call: this.id }).finally(() => this._close());
  }

  /** Sends DTMF digits (0-9 * # A-D) through the gateway. */
  dtmf(digits, durationMs) {
    const p = { call: this.id, digits: String(digits) };
    if (durationMs) p.duration_ms = durationMs;
    return this.tandem.request('dtmf', p);
  }

  /** Sends a SIP INFO in the call's dialog; resolves when the peer answered 2xx. */
  info(contentType, body) {
    return this.tandem.request('info', { call: this.id, content_type: contentType, body: String(body) });
  }

  /** Sends a SIP MESSAGE in the call's dialog; resolves once the peer accepted it. */
  message(body, contentType) {
    const p = { call: this.id, body: String(body) };
    if (contentType) p.content_type = contentType;
    return this.tandem.request('message', p);
  }

  /** A new offer from this call's RTCPeerConnection (after a transceiver
   * direction or codec change), answered by the gateway once the SIP peer
   * accepted its re-INVITE; a refusal rolls the pc back and rejects. */
  async renegotiate() {
    if (!this.pc) throw new TandemError(409, 'the call has no media yet', 'renegotiate');
    await this.pc.setLocalDescription(await this.pc.createOffer());
    let r;
    try {
      r = await this.tandem.request('renegotiate', { call: this.id, sdp: this.pc.localDescription.sdp });
    } catch (e) {
      // refused (or the SIP peer refused): the call stays as it was, so must the pc
      await this.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      throw e;
    }
    await this.pc.setRemoteDescription({ type: 'answer', sdp: r.sdp });
  }

  hold() { return this.tandem.request('hold', { call: this.id }); }
  resume() { return this.tandem.request('resume', { call: this.id }); }

  /** Blind transfer to a URI, or attended: transfer({replaces: otherCallId}). */
  transfer(to) {
    const p = { call: this.id };
    if (to && typeof to === 'object') p.replaces = to.replaces instanceof Call ? to.replaces.id : to.replaces;
    else p.to = to;
    return this.tandem.request('transfer', p);
  }

  /** Mutes or unmutes the microphone locally (nothing is sent to the gateway). */
  mute(on = true) {
    this.muted = !!on;
    for (const s of this.pc ? this.pc.getSenders() : [])
      if (s.track) s.track.enabled = !this.muted;
  }

  /** Replaces the microphone track mid-call (another input device). */
  async replaceStream(stream) {
    this.localStream = stream;
    const track = stream.getAudioTracks()[0];
    for (const s of this.pc ? this.pc.getSenders() : [])
      if (s.track && s.track.kind === 'audio') {
        track.enabled = !this.muted;
        await s.replaceTrack(track);
      }
  }

  /** The browser's view (getStats) merged with the gateway's `stats {call}`:
   * {codec, rtt_ms, packets_lost, jitter_ms, bytes_sent, bytes_received,
   *  gateway: result|null, gateway_error: TandemError|null}. */
  async stats() {
    const out = { codec: '', rtt_ms: null, packets_lost: 0, jitter_ms: null,
      bytes_sent: 0, bytes_received: 0, gateway: null, gateway_error: null };
    if (this.pc) {
      const report = await this.pc.getStats();
      const codecs = new Map();
      report.forEach((r) => { if (r.type === 'codec') codecs.set(r.id, r); });
      report.forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          out.packets_lost = r.packetsLost || 0;
          if (r.jitter !== undefined) out.jitter_ms = Math.round(r.jitter * 1000);
          out.bytes_received = r.bytesReceived || 0;
          const c = codecs.get(r.codecId);
          if (c) out.codec = `${c.mimeType.replace(/^audio\//, '')}/${c.clockRate}`;
        } else if (r.type === 'outbound-rtp' && r.kind === 'audio') {
          out.bytes_sent = r.bytesSent || 0;
        } else if (r.type === 'candidate-pair' && r.nominated && r.currentRoundTripTime !== undefined) {
          out.rtt_ms = Math.round(r.currentRoundTripTime * 1000);
        } else if (r.type === 'remote-inbound-rtp' && r.roundTripTime !== undefined && out.rtt_ms === null) {
          out.rtt_ms = Math.round(r.roundTripTime * 1000);
        }
      });
    }
    try {
      out.gateway = await this.tandem.request('stats', { call: this.id });
    } catch (e) {
      out.gateway_error = e;
    }
    return out;
  }

  _setState(state, code, reason) {
    this.state = state;
    this.code = code || 0;
    this.reason = reason || '';
    if (state === 'answered' && !this.answeredAt) this.answeredAt = Date.now();
    emit(this, 'state', { state, code: this.code, reason: this.reason });
    if (state === 'ended') this._close();
  }

  _flushCandidates() {
    const cands = this._pendingCands;
    this._pendingCands = null;
    for (const c of cands || []) this.tandem._sendCandidate(this, c);
  }

  _close() {
    if (this.pc) {
      try { this.pc.close(); } catch (e) { /* already closed */ }
    }
    this.tandem.calls.delete(this.id);
    if (this.state !== 'ended') {
      this.state = 'ended';
      emit(this, 'state', { state: 'ended', code: this.code, reason: this.reason || 'hung up' });
    }
  }
}

/** A connection to one gateway. Options: user, password, token, reconnect
 * (default true), minBackoffMs (500), maxBackoffMs (10000), timeoutMs
 * (15000), iceServers ([]), WebSocket (an implementation, e.g. the `ws`
 * package under Node), RTCPeerConnection. Events: `connection`
 * {state: 'connecting'|'open'|'ready'|'reconnecting'|'closed', code, reason,
 * delayMs}, `incoming` {call}, `callstate` {call, state, code, reason},
 * `dtmf` {call, digit, duration_ms, source}, `info` {call, content_type,
 * body}, `message` {from, to, body, content_type, call?}, `registration` {...},
 * `detached` {calls: [{call, state, peer, direction}]} (calls the gateway
 * kept that this object does not know: a reloaded page), `error` {error}. */
export class Tandem extends EventTarget {
  constructor(url, opts = {}) {
    super();
    this.url = url;
    this.opts = { reconnect: true, minBackoffMs: 500, maxBackoffMs: 10000, timeoutMs: 15000,
      iceServers: [], ...opts };
    this.user = opts.user || null;
    this.token = opts.token || null;
    this._password = opts.password || null;
    this.calls = new Map();
    this.state = 'closed';
    this.ws = null;
    this._nextId = 1;
    this._pending = new Map();
    this._wantOpen = false;
    this._attempt = 0;
    this._timer = null;
    this._WS = opts.WebSocket || globalThis.WebSocket;
    this._PC = opts.RTCPeerConnection || globalThis.RTCPeerConnection;
  }

  on(type, fn) {
    const h = (e) => fn(e.detail);
    this.addEventListener(type, h);
    return () => this.removeEventListener(type, h);
  }

  /** Opens the socket and, when a user is known, logs in. Resolves with the
   * login result (or {} without a user); rejects with a TandemError. */
  connect() {
    this._wantOpen = true;
    return this._open();
  }

  _setConn(state, extra = {}) {
    this.state = state;
    emit(this, 'connection', { state, ...extra });
  }

  _open() {
    if (!this._WS)
      return Promise.reject(new TandemError(TandemError.DISCONNECTED, 'no WebSocket in this environment'));
    clearTimeout(this._timer);
    this._setConn('connecting');
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this._WS(this.url, SUBPROTOCOL);
      } catch (e) {
        reject(new TandemError(TandemError.DISCONNECTED, `cannot open ${this.url}: ${e.message}`));
        return;
      }
      this.ws = ws;
      let opened = false;
      ws.onopen = async () => {
        opened = true;
        this._setConn('open');
        try {
          const r = this.user ? await this._login() : {};
          this._attempt = 0;
          this._setConn('ready');
          resolve(r);
        } catch (e) {
          reject(e);
          // a login refused (401) will not get better by retrying
          if (e.code === 401 || e.code === 403) { this._wantOpen = false; ws.close(1000); }
        }
      };
      ws.onmessage = (ev) => this._onMessage(ev.data);
      ws.onerror = () => { /* onclose follows with the code */ };
      ws.onclose = (ev) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this._failPending(ev.code, ev.reason);
        if (!opened) reject(new TandemError(TandemError.DISCONNECTED,
          `cannot connect to ${this.url} (${ev.code || 'no answer'})`));
        this._closed(ev.code, ev.reason);
      };
    });
  }

  _closed(code, reason) {
    if (!this._wantOpen || !this.opts.reconnect) {
      this._setConn('closed', { code, reason });
      for (const c of [...this.calls.values()]) c._setState('ended', 0, 'disconnected');
      return;
    }
    // exponential back-off with jitter, so a restarted gateway is not
    // hit by every client in the same millisecond
    const base = Math.min(this.opts.maxBackoffMs, this.opts.minBackoffMs * 2 ** this._attempt);
    const delayMs = Math.round(base * (0.75 + Math.random() * 0.5));
    this._attempt++;
    this._setConn('reconnecting', { code, reason, delayMs });
    this._timer = setTimeout(() => {
      this._open().then((r) => this._afterReconnect(r)).catch((e) => {
        emit(this, 'error', { error: e });
      });
    }, delayMs);
  }

  _failPending(code, reason) {
    for (const [, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new TandemError(TandemError.DISCONNECTED,
        `connection closed (${code || 'no code'}${reason ? ': ' + reason : ''})`, p.method));
    }
    this._pending.clear();
  }

  /** Closes for good: no reconnect; calls end locally (the gateway hangs
   * them up, or keeps them for its grace time). */
  close() {
    const ws = this.ws;
    this._wantOpen = false;
    clearTimeout(this._timer);
    this.ws = null;   // its onclose is ours no more: the state changes now
    if (ws) {
      ws.close(1000);
      this._failPending(1000, 'closed by the client');
    }
    if (this.state !== 'closed') this._closed(1000, '');
  }

  /** Sends one request; resolves with its result, rejects with TandemError. */
  request(method, params) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1)
      return Promise.reject(new TandemError(TandemError.DISCONNECTED, 'not connected to the gateway', method));
    const id = this._nextId++;
    const msg = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new TandemError(TandemError.TIMEOUT, `no answer to ${method} within ${this.opts.timeoutMs} ms`, method));
      }, this.opts.timeoutMs);
      this._pending.set(id, { resolve, reject, timer, method });
      ws.send(JSON.stringify(msg));
    });
  }

  ping() { return this.request('ping'); }

  /** Logs in (also done by connect when `user` was given). */
  login({ user, password, token } = {}) {
    if (user) this.user = user;
    if (password) this._password = password;
    if (token) this.token = token;
    return this._login();
  }

  async _login() {
    const p = { user: this.user };
    if (this.token) p.token = this.token;
    else if (this._password) p.password = this._password;
    let r;
    try {
      r = await this.request('login', p);
    } catch (e) {
      // a spent or expired token: fall back to the password if we kept one
      if (e.code === 401 && p.token && this._password) {
        this.token = null;
        return this._login();
      }
      throw e;
    }
    if (r.token) {
      this.token = r.token;
      this._password = null;   // the token is enough from now on
    }
    this.loginResult = r;
    this.detached = Array.isArray(r.calls) ? r.calls : [];
    return r;
  }

  /** After a reconnect: re-attach the calls whose RTCPeerConnection is
   * alive, end those the gateway no longer has, report the others. */
  async _afterReconnect(r) {
    const kept = new Map((r && Array.isArray(r.calls) ? r.calls : []).map((c) => [c.call, c]));
    for (const call of [...this.calls.values()]) {
      if (!kept.has(call.id)) {
        call._setState('ended', 0, 'the call ended while the connection was down');
        continue;
      }
      kept.delete(call.id);
      try {
        await this.reattach(call.id);
      } catch (e) {
        emit(this, 'error', { error: e });
      }
    }
    if (kept.size) emit(this, 'detached', { calls: [...kept.values()] });
  }

  /** Re-attaches a call the gateway kept. With a live RTCPeerConnection
   * (a dropped socket) signalling simply resumes; otherwise (a reloaded
   * page) a new one is offered with `stream`, and media resumes on it.
   * Resolves with the Call. */
  async reattach(id, { stream, peer, direction, state } = {}) {
    let call = this.calls.get(id);
    const alive = call && call.pc && !['closed', 'failed'].includes(call.pc.connectionState);
    if (alive) {
      await this.request('reattach', { call: id });
      return call;
    }
    if (!call) {
      call = new Call(this, id, direction || 'out', peer);
      this.calls.set(id, call);
    }
    const pc = this._newPc(call, stream || call.localStream);
    call._pendingCands = [];
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    let r;
    try {
      r = await this.request('reattach', { call: id, sdp: pc.localDescription.sdp });
    } catch (e) {
      call._close();
      throw e;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: r.sdp });
    call._flushCandidates();
    call._setState(state || 'answered', 200, 'reattached');
    return call;
  }

  /** Places a call to `to` (a sip: URI, or a test destination "echo" /
   * "tone"). Options: stream (the microphone), fromDisplay, headers (X-
   * only), codecs (e.g. ['PCMU'] to prefer). Resolves with the Call once
   * the gateway has answered the offer; follow it with its `state` events. */
  async call(to, { stream, fromDisplay, headers, codecs } = {}) {
    const call = new Call(this, null, 'out', to);
    const pc = this._newPc(call, stream);
    if (codecs && pc.getTransceivers && globalThis.RTCRtpReceiver && RTCRtpReceiver.getCapabilities) {
      const caps = RTCRtpReceiver.getCapabilities('audio').codecs;
      const want = caps.filter((c) => codecs.some((n) => c.mimeType.toLowerCase() === `audio/${n.toLowerCase()}`))
        .concat(caps.filter((c) => /telephone-event/i.test(c.mimeType)));
      for (const t of pc.getTransceivers()) if (want.length) t.setCodecPreferences(want);
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const p = { to, sdp: pc.localDescription.sdp };
    if (fromDisplay) p.from_display = fromDisplay;
    if (headers) p.headers = headers;
    let r;
    try {
      r = await this.request('call', p);
    } catch (e) {
      pc.close();
      throw e;
    }
    call.id = r.call;
    this.calls.set(call.id, call);
    // notifications that raced the result were kept for us
    await pc.setRemoteDescription({ type: 'answer', sdp: r.sdp });
    call._flushCandidates();
    for (const m of this._early.get(call.id) || []) this._onNotify(m.method, m.params);
    this._early.delete(call.id);
    return call;
  }

  /** SIP registration through the gateway: {account} or {uri, auth_user,
   * password, registrar, proxy, expires}. Resolves with {registration}. */
  register(params) { return this.request('register', params); }
  unregister(registration) { return this.request('unregister', { registration }); }

  /** A SIP MESSAGE out of any call (RFC 3428) to a URI or dial string;
   * resolves once the peer accepted it, else fails with its SIP status.
   * The third argument is the content type, or options {contentType,
   * account}: `account` sends it as that [accounts] entry (its From, proxy
   * and digest credentials), as call() does. */
  message(to, body, opts) {
    const o = typeof opts === 'string' ? { contentType: opts } : (opts || {});
    const p = { to, body: String(body) };
    if (o.contentType) p.content_type = o.contentType;
    if (o.account) p.account = o.account;
    return this.request('message', p);
  }

  /** The gateway's counters (stats without a call). */
  gatewayStats() { return this.request('stats'); }

  _newPc(call, stream) {
    if (!this._PC)
      throw new TandemError(TandemError.MEDIA, 'this environment has no RTCPeerConnection');
    const pc = new this._PC({ iceServers: this.opts.iceServers, bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require' });
    call.pc = pc;
    call.localStream = stream || null;
    if (stream) for (const t of stream.getAudioTracks()) {
      t.enabled = !call.muted;
      pc.addTrack(t, stream);
    } else pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.onicecandidate = (ev) => {
      const c = ev.candidate && ev.candidate.candidate ? ev.candidate.toJSON() : null;
      if (call._pendingCands) call._pendingCands.push(c);
      else this._sendCandidate(call, c);
    };
    pc.ontrack = (ev) => {
      call.remoteStream = ev.streams[0] || new MediaStream([ev.track]);
      emit(call, 'track', { stream: call.remoteStream });
    };
    return pc;
  }

  _sendCandidate(call, cand) {
    if (!call.id || call.state === 'ended') return;
    const p = cand ? { call: call.id, candidate: cand } : { call: call.id, completed: true };
    this.request('candidate', p).catch((e) => {
      // a candidate after the end of the call is no news
      if (call.state !== 'ended') emit(this, 'error', { error: e });
    });
  }

  _onMessage(data) {
    let m;
    try {
      m = JSON.parse(data);
    } catch (e) {
      emit(this, 'error', { error: new TandemError(-32700, 'unreadable message from the gateway') });
      return;
    }
    if (m.id !== undefined && m.id !== null && !m.method) {
      const p = this._pending.get(m.id);
      if (!p) return;
      this._pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error) p.reject(new TandemError(m.error.code, m.error.message, p.method));
      else p.resolve(m.result);
      return;
    }
    if (m.error) {
      emit(this, 'error', { error: new TandemError(m.error.code, m.error.message) });
      return;
    }
    if (m.method) this._onNotify(m.method, m.params || {});
  }

  get _early() {
    if (!this.__early) this.__early = new Map();
    return this.__early;
  }

  _onNotify(method, p) {
    const call = p.call ? this.calls.get(p.call) : null;
    if (p.call && !call && method !== 'incoming') {
      // the `call` result may not be in yet: keep it for a moment
      const q = this._early.get(p.call) || [];
      if (q.length < 32) q.push({ method, params: p });
      this._early.set(p.call, q);
      setTimeout(() => this._early.delete(p.call), 30000);
      return;
    }
    switch (method) {
      case 'incoming': {
        const c = new Call(this, p.call, 'in', p.from);
        c.peerDisplay = p.from_display || '';
        c.headers = p.headers || {};
        c.remoteOffer = p.sdp;
        c._pendingCands = [];
        this.calls.set(c.id, c);
        emit(this, 'incoming', { call: c });
        break;
      }
      case 'call.state':
        call._setState(p.state, p.code, p.reason);
        emit(this, 'callstate', { call, state: p.state, code: p.code || 0, reason: p.reason || '' });
        break;
      case 'candidate':
        if (call.pc) {
          const c = p.completed ? null : p.candidate;
          call.pc.addIceCandidate(c || undefined).catch(() => { /* late or after close */ });
        }
        break;
      case 'dtmf':
        emit(call, 'dtmf', p);
        emit(this, 'dtmf', { call, digit: p.digit, duration_ms: p.duration_ms, source: p.source });
        break;
      case 'info':
        emit(call, 'info', p);
        emit(this, 'info', { call, content_type: p.content_type, body: p.body });
        break;
      case 'message':
        if (call) emit(call, 'message', p);
        emit(this, 'message', { ...p, call });
        break;
      case 'registration':
        emit(this, 'registration', p);
        break;
      default:
        emit(this, 'notification', { method, params: p });
    }
  }
}

/** Plain words for an error, for people rather than logs. */
export function describeError(e) {
  if (!e) return '';
  if (e.name === 'NotAllowedError') return 'No microphone permission: allow the microphone for this page.';
  if (e.name === 'NotFoundError') return 'No microphone found.';
  if (e.name === 'NotReadableError') return 'The microphone is in use by another program.';
  if (!(e instanceof TandemError)) return e.message || String(e);
  const words = {
    [-32602]: 'The request is missing something the gateway needs',
    400: 'The gateway cannot use that',
    401: 'Wrong user name or password, or the login has expired.',
    403: 'Not allowed: the number is not allowed by the dial plan, or the account may not do this.',
    404: 'No such call or account.',
    409: 'Not possible in the call\'s current state.',
    429: 'Too many requests: wait a moment and try again.',
    488: 'The browser and the gateway have no audio codec in common.',
    503: 'The gateway cannot do this now',
  };
  const w = words[e.code];
  if (e.code === TandemError.DISCONNECTED) return 'Not connected to the gateway.';
  if (e.code === TandemError.TIMEOUT) return 'The gateway did not answer in time.';
  if (e.code === 503) return `${w}: ${e.message}.`;
  return w ? `${w} (${e.message})` : e.message;
}

export default Tandem;
