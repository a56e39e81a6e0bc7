// Type declarations for tandem.js (the Tandem gateway's client library).
// Kept beside the module so `npm install <path>/web` gives editors types
// with no build step; docs/protocol.md is the protocol they describe.

export declare class TandemError extends Error {
  constructor(code: number, message: string, method?: string);
  /** The gateway's error code (-32700..-32600, 400..503) or a local one below. */
  code: number;
  /** The request that failed, when known. */
  method: string | null;
  static readonly TIMEOUT: -1;
  static readonly DISCONNECTED: -2;
  static readonly MEDIA: -3;
}

export type CallState = 'incoming' | 'calling' | 'trying' | 'ringing' | 'early' | 'answered' | 'ended';
export type ConnectionState = 'connecting' | 'open' | 'ready' | 'reconnecting' | 'closed';

export interface StateDetail { state: CallState; code: number; reason: string; }
export interface DtmfDetail { call?: Call; digit: string; duration_ms: number; source: 'rfc4733' | 'info' | 'inband' | string; }
export interface DetachedCall { call: string; state: string; peer: string; direction: 'in' | 'out'; }

export interface CallStats {
  codec: string;
  rtt_ms: number | null;
  packets_lost: number;
  jitter_ms: number | null;
  bytes_sent: number;
  bytes_received: number;
  /** The gateway's `stats {call}` result, or null when it failed (gateway_error). */
  gateway: Record<string, unknown> | null;
  gateway_error: TandemError | null;
}

export declare class Call extends EventTarget {
  readonly tandem: Tandem;
  id: string;
  direction: 'in' | 'out';
  /** The far end's URI (from for incoming calls, to for outgoing). */
  peer: string;
  peerDisplay: string;
  headers: Record<string, string>;
  state: CallState;
  code: number;
  reason: string;
  pc: RTCPeerConnection | null;
  remoteStream: MediaStream | null;
  localStream: MediaStream | null;
  muted: boolean;
  /** Date.now() at the answer, 0 before. */
  answeredAt: number;
  answer(opts?: { stream?: MediaStream }): Promise<void>;
  reject(code?: number): Promise<unknown>;
  hangup(): Promise<unknown>;
  dtmf(digits: string, durationMs?: number): Promise<unknown>;
  /** A SIP INFO in the call's dialog; resolves on the peer's 2xx. */
  info(contentType: string, body: string): Promise<unknown>;
  /** A SIP MESSAGE in the call's dialog. */
  message(body: string, contentType?: string): Promise<unknown>;
  /** A new offer from this call's pc (after a direction or codec change),
   * answered by the gateway once the SIP peer accepted its re-INVITE; on a
   * refusal it rejects (code: the SIP status, or 409/488) and rolls the pc back. */
  renegotiate(): Promise<void>;
  hold(): Promise<unknown>;
  resume(): Promise<unknown>;
  transfer(to: string | { replaces: string | Call }): Promise<unknown>;
  mute(on?: boolean): void;
  replaceStream(stream: MediaStream): Promise<void>;
  stats(): Promise<CallStats>;
}

export interface TandemOptions {
  user?: string;
  password?: string;
  token?: string;
  /** Reconnect with back-off after a dropped socket (default true). */
  reconnect?: boolean;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per request (default 15000). */
  timeoutMs?: number;
  iceServers?: RTCIceServer[];
  /** A WebSocket implementation (Node: the `ws` package). */
  WebSocket?: unknown;
  RTCPeerConnection?: unknown;
}

export interface LoginResult { user: string; expires: number; token?: string; calls?: DetachedCall[]; }

export interface TandemEventMap {
  connection: { state: ConnectionState; code?: number; reason?: string; delayMs?: number };
  incoming: { call: Call };
  callstate: { call: Call } & StateDetail;
  dtmf: DtmfDetail;
  info: { call: Call; content_type: string; body: string };
  message: { from: string; to: string; body: string; content_type: string; call?: Call | null };
  registration: { registration: string; state: string; code?: number; reason?: string; expires?: number };
  detached: { calls: DetachedCall[] };
  notification: { method: string; params: Record<string, unknown> };
  error: { error: Error };
}

export declare class Tandem extends EventTarget {
  constructor(url: string, opts?: TandemOptions);
  readonly url: string;
  user: string | null;
  /** The newest login token (auth = users); keep it to log in again. */
  token: string | null;
  state: ConnectionState;
  calls: Map<string, Call>;
  loginResult?: LoginResult;
  /** Calls the gateway kept for this user at the last login. */
  detached?: DetachedCall[];
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof TandemEventMap>(type: K, fn: (detail: TandemEventMap[K]) => void): () => void;
  connect(): Promise<LoginResult | Record<string, never>>;
  close(): void;
  request<T = any>(method: string, params?: Record<string, unknown>): Promise<T>;
  ping(): Promise<Record<string, never>>;
  login(creds?: { user?: string; password?: string; token?: string }): Promise<LoginResult>;
  call(to: string, opts?: { stream?: MediaStream; fromDisplay?: string; headers?: Record<string, string>; codecs?: string[] }): Promise<Call>;
  reattach(id: string, opts?: { stream?: MediaStream; peer?: string; direction?: 'in' | 'out'; state?: CallState }): Promise<Call>;
  register(params: Record<string, unknown>): Promise<{ registration: string }>;
  unregister(registration: string): Promise<Record<string, never>>;
  /** A SIP MESSAGE out of any call; fails with the peer's SIP status. The
   * third argument is the content type, or options: `account` sends it as
   * that [accounts] entry (From, proxy, digest credentials). */
  message(to: string, body: string,
    opts?: string | { contentType?: string; account?: string }): Promise<Record<string, never>>;
  gatewayStats(): Promise<Record<string, unknown>>;
}

/** Plain words for an error, for people rather than logs. */
export declare function describeError(e: unknown): string;

export default Tandem;
