#!/usr/bin/python3
"""The JSON-RPC-over-WebSocket envelope rules (protocol.md), checked from
inside a web page in headless Chromium with the browser's own
`new WebSocket(url, 'tandem.v1')`, against real running tandem processes.

No driver: a small HTTP server on loopback serves the page below; the page
runs every check in JavaScript, one fresh WebSocket per check, and POSTs a
JSON object of raw observations (answers, close codes, events) back to
/results. Python waits for that POST (bounded) and the TAP tests assert on it.
Three gateways take part: auth = none over ws://, auth = users with
max_failures = 3 over ws://, and auth = none over wss:// with a self-signed
certificate (Chromium runs with --ignore-certificate-errors).

Run: top_builddir=. top_srcdir=. /usr/bin/python3 tests/integration/test_chromium.py"""

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tandem_harness import TANDEM, Gateway, tap_main  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PAGE_TIMEOUT = 30         # seconds for the page to POST its results
PASSWORD = "correct horse battery staple"

PAGE = r"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>tandem envelope checks</title></head>
<body><pre id="log"></pre>
<script>
"use strict";
const q = new URLSearchParams(location.search);
const WS = q.get("ws"), WS_USERS = q.get("ws_users"), WSS = q.get("wss");
const PASSWORD = q.get("password");
const WAIT = 5000;   // ms for any one answer, open or close

function timeout(ms, what) {
  return new Promise(res => setTimeout(() => res({timeout: what}), ms));
}

// One WebSocket with a queue of parsed incoming messages.
class Conn {
  constructor(url, protocols) {
    this.queue = []; this.waiters = []; this.events = []; this.close = null;
    this.ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise(res => {
      this.ws.onopen = () => { this.events.push("open"); res({open: true}); };
      this.ws.onerror = () => { this.events.push("error"); res({open: false}); };
    });
    this.closed = new Promise(res => {
      this.ws.onclose = e => {
        this.events.push("close");
        this.close = {code: e.code, reason: e.reason, wasClean: e.wasClean};
        res(this.close);
        const w = this.waiters; this.waiters = [];
        w.forEach(f => f({closed: this.close}));
      };
    });
    this.ws.onmessage = e => {
      let m;
      if (typeof e.data !== "string")
        m = {binary_from_gateway: e.data.byteLength};
      else
        try { m = JSON.parse(e.data); } catch (x) { m = {unparsable: e.data.slice(0, 300)}; }
      if (this.waiters.length) this.waiters.shift()(m); else this.queue.push(m);
    };
  }
  state() { return ["CONNECTING", "OPEN", "CLOSING", "CLOSED"][this.ws.readyState]; }
  next(ms = WAIT) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.close) return Promise.resolve({closed: this.close});
    return new Promise(res => {
      const f = m => { clearTimeout(t); res(m); };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(f);
        if (i >= 0) this.waiters.splice(i, 1);
        res({timeout: "no answer in " + ms + " ms"});
      }, ms);
      this.waiters.push(f);
    });
  }
  send(data) { this.ws.send(data); return this.next(); }
  rpc(id, method, params) {
    const m = {jsonrpc: "2.0", id: id, method: method};
    if (params !== undefined) m.params = params;
    return this.send(JSON.stringify(m));
  }
  waitClose(ms = WAIT) { return Promise.race([this.closed, timeout(ms, "no close in " + ms + " ms")]); }
  shut() { try { this.ws.close(1000); } catch (x) {} }
}

async function open(url) {
  const c = new Conn(url, "tandem.v1");
  const o = await Promise.race([c.opened, timeout(WAIT, "no open")]);
  if (!o.open)
    throw new Error("WebSocket to " + url + " did not open: " + JSON.stringify(o) +
                    " events " + c.events.join(","));
  if (c.ws.protocol !== "tandem.v1")
    throw new Error("negotiated subprotocol is '" + c.ws.protocol + "'");
  return c;
}

// A socket that must not open: what the page saw.
async function refused(url, protocols) {
  const c = new Conn(url, protocols);
  const o = await Promise.race([c.opened, timeout(WAIT, "no open or error")]);
  const close = await c.waitClose();
  c.shut();
  return {opened: o.open === true, first: o, events: c.events, close: close};
}

const PING = '{"jsonrpc":"2.0","id":5,"method":"ping"}';
const pad = (s, n) => s + " ".repeat(n - s.length);

const checks = {
  async ping_number_id() {
    const c = await open(WS);
    const r = {reply: await c.rpc(1, "ping")};
    c.shut(); return r;
  },
  async ping_string_id() {
    const c = await open(WS);
    const r = {reply: await c.rpc("abc-7", "ping")};
    c.shut(); return r;
  },
  async invalid_json() {
    const c = await open(WS);
    const r = {reply: await c.send('{"jsonrpc":"2.0","id":1,"method":"ping"')};
    r.after = await c.rpc(2, "ping"); r.state = c.state();
    c.shut(); return r;
  },
  async binary_frame() {
    const c = await open(WS);
    const r = {reply: await c.send(new TextEncoder().encode(PING))};
    r.after = await c.rpc(2, "ping"); r.state = c.state();
    c.shut(); return r;
  },
  async frame_over_64k() {
    const c = await open(WS);
    const big = pad(PING, 65537);
    const r = {sent_length: big.length, reply: await c.send(big)};
    r.after = await c.rpc(2, "ping"); r.state = c.state();
    c.shut(); return r;
  },
  async frame_of_64k() {
    const c = await open(WS);
    const full = pad(PING, 65536);
    const r = {sent_length: full.length, reply: await c.send(full)};
    r.after = await c.rpc(2, "ping"); r.state = c.state();
    c.shut(); return r;
  },
  async batch() {
    const c = await open(WS);
    const r = {one: await c.send('[{"jsonrpc":"2.0","id":1,"method":"ping"}]'),
               empty: await c.send("[]")};
    r.after = await c.rpc(2, "ping"); r.state = c.state();
    c.shut(); return r;
  },
  async jsonrpc_1_0() {
    const c = await open(WS);
    const r = {reply: await c.send('{"jsonrpc":"1.0","id":9,"method":"ping"}')};
    c.shut(); return r;
  },
  async unknown_method() {
    const c = await open(WS);
    const r = {reply: await c.rpc(3, "no.such.method", {})};
    c.shut(); return r;
  },
  async ping_with_params() {
    const c = await open(WS);
    const r = {reply: await c.rpc(4, "ping", {x: 1})};
    c.shut(); return r;
  },
  async login_auth_none() {
    const c = await open(WS);
    const r = {reply: await c.rpc(6, "login", {user: "alice"})};
    r.stats = await c.rpc(7, "stats");
    c.shut(); return r;
  },
  async stats_auth_none_no_login() {
    const c = await open(WS);
    const r = {reply: await c.rpc(8, "stats")};
    c.shut(); return r;
  },
  async not_available_503() {
    const c = await open(WS);
    const r = {
      call: await c.rpc(10, "call", {to: "sip:bob@127.0.0.1", sdp: "v=0\r\n"}),
      register: await c.rpc(11, "register", {account: "office"}),
      hangup: await c.rpc(12, "hangup", {call: "c1"}),
      dtmf: await c.rpc(13, "dtmf", {call: "c1", digits: "1"}),
    };
    r.state = c.state();
    c.shut(); return r;
  },
  async ten_errors_close_1008() {
    const c = await open(WS);
    for (let i = 0; i < 10; i++) c.ws.send("not json " + i);
    const r = {close: await c.waitClose(), replies: []};
    while (c.queue.length) r.replies.push(c.queue.shift());
    r.state = c.state();
    return r;
  },
  async nine_ping_nine_stays_open() {
    const c = await open(WS);
    const r = {errors: []};
    for (let i = 0; i < 9; i++) r.errors.push(await c.send("not json " + i));
    r.ping = await c.rpc(20, "ping");
    for (let i = 0; i < 9; i++) r.errors.push(await c.send("not json again " + i));
    r.after = await c.rpc(21, "ping");
    r.state = c.state();
    c.shut(); return r;
  },
  async no_subprotocol() { return refused(WS); },
  async wrong_path() { return refused(WS.replace(/\/ws$/, "/nope"), "tandem.v1"); },

  async users_login() {
    const c = await open(WS_USERS);
    const r = {};
    r.stats_before = await c.rpc(1, "stats");
    r.wrong = await c.rpc(2, "login", {user: "alice", password: PASSWORD + "x"});
    r.right = await c.rpc(3, "login", {user: "alice", password: PASSWORD});
    r.stats_after = await c.rpc(4, "stats");
    c.shut();
    if (r.right.result && r.right.result.token) {
      const d = await open(WS_USERS);
      r.stats_fresh = await d.rpc(5, "stats");
      r.token = await d.rpc(6, "login", {user: "alice", token: r.right.result.token});
      r.stats_token = await d.rpc(7, "stats");
      d.shut();
    }
    return r;
  },
  async users_lockout() {
    // runs after users_login, whose good login cleared the failure count
    const r = {failures: []};
    const c = await open(WS_USERS);
    for (let i = 0; i < 3; i++)
      r.failures.push(await c.rpc(10 + i, "login", {user: "alice", password: "nope" + i}));
    r.locked = await c.rpc(20, "login", {user: "alice", password: PASSWORD});
    c.shut();
    const d = await open(WS_USERS);   // same address, new socket
    r.locked_new_socket = await d.rpc(21, "login", {user: "alice", password: PASSWORD});
    d.shut();
    return r;
  },

  async wss_ping() {
    const c = await open(WSS);
    const r = {url: c.ws.url, reply: await c.rpc(1, "ping")};
    c.shut(); return r;
  },
};

async function main() {
  const results = {userAgent: navigator.userAgent, checks: {}};
  for (const [name, fn] of Object.entries(checks)) {
    const t0 = performance.now();
    try {
      results.checks[name] = await fn();
    } catch (e) {
      results.checks[name] = {exception: String(e && e.stack || e)};
    }
    results.checks[name].ms = Math.round(performance.now() - t0);
    document.getElementById("log").textContent += name + "\n";
  }
  return results;
}

function post(obj) {
  return fetch("/results", {method: "POST", headers: {"Content-Type": "application/json"},
                            body: JSON.stringify(obj)});
}

window.addEventListener("error", e => post({page_error: String(e.message)}));
main().then(post, e => post({page_error: String(e && e.stack || e)}));
</script></body></html>
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "tandem-test"

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path != "/page.html":
            self.send_error(404)
            return
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path != "/results":
            self.send_error(404)
            return
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()
        srv = self.server
        if srv.results is None:
            srv.results = json.loads(data)
            srv.done.set()

    def log_message(self, fmt, *args):
        pass


def hash_password(password):
    out = subprocess.run([TANDEM, "--hash-password"], input=password + "\n",
                         capture_output=True, text=True, timeout=30, check=True)
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pbkdf2-sha256$"), out.stdout
    return lines[0]


def make_cert(d):
    key, cert = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   capture_output=True, check=True, timeout=30)
    return cert, key


def stop_chromium(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
    try:   # children of the group may outlive the leader
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(5)


def run_page():
    """Starts the gateways and Chromium, returns the page's results."""
    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError("%s is missing or not executable" % CHROMIUM)
    tmp = tempfile.mkdtemp(prefix="tandem-chromium-")
    gateways, srv, chrome = [], None, None
    try:
        cert, key = make_cert(tmp)
        users_extra = "[auth]\nmode = users\nmax_failures = 3\n[users]\nalice = %s\n" % (
            hash_password(PASSWORD))
        gw_none = Gateway()
        gw_users = Gateway(extra=users_extra)
        gw_tls = Gateway(extra="[websocket]\ncert = %s\nkey = %s\n" % (cert, key))
        for g in (gw_none, gw_users, gw_tls):
            gateways.append(g)
            g.start()
        assert gw_tls.url.startswith("wss://"), gw_tls.url

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        srv.daemon_threads = True
        srv.results, srv.done = None, threading.Event()
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/page.html?%s" % (srv.server_address[1], urllib.parse.urlencode({
            "ws": gw_none.url, "ws_users": gw_users.url, "wss": gw_tls.url,
            "password": PASSWORD}))

        profile = os.path.join(tmp, "profile")
        os.mkdir(profile)
        chrome_log = os.path.join(tmp, "chromium.log")
        with open(chrome_log, "wb") as log:
            chrome = subprocess.Popen(
                [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--ignore-certificate-errors",
                 "--user-data-dir=" + profile, "--remote-debugging-port=0", url],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + PAGE_TIMEOUT
        while not srv.done.wait(0.2):
            if chrome.poll() is not None or time.monotonic() > deadline:
                with open(chrome_log, errors="replace") as f:
                    tail = f.read()[-3000:]
                raise AssertionError("page posted no results (chromium %s); its output:\n%s" % (
                    "exited %d" % chrome.returncode if chrome.poll() is not None
                    else "still running after %d s" % PAGE_TIMEOUT, tail))
        results = srv.results
        if "page_error" in results:
            raise AssertionError("page failed: %s" % results["page_error"])
        return results
    finally:
        if chrome:
            stop_chromium(chrome)
        if srv:
            srv.shutdown()
            srv.server_close()
        for g in gateways:
            g.stop()
            shutil.rmtree(g.dir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


_run = {}


def check(name):
    """The page's observations for one check (one browser run serves all)."""
    if "results" not in _run and "error" not in _run:
        try:
            _run["results"] = run_page()
        except Exception as e:  # every test then fails with the same cause
            _run["error"] = e
    if "error" in _run:
        raise AssertionError("browser run failed: %r" % (_run["error"],))
    r = _run["results"]["checks"].get(name)
    assert r is not None, "page has no check %s" % name
    assert "exception" not in r, "check %s threw in the page: %s" % (name, r["exception"])
    return r


def assert_error(reply, code, id_, contains=None):
    assert isinstance(reply, dict) and "error" in reply, "wanted error %d, got %r" % (code, reply)
    assert reply.get("jsonrpc") == "2.0", reply
    assert "result" not in reply, reply
    assert "id" in reply and reply["id"] == id_ and type(reply["id"]) is type(id_), (
        "wanted id %r: %r" % (id_, reply))
    err = reply["error"]
    assert err.get("code") == code, "wanted code %d: %r" % (code, reply)
    assert isinstance(err.get("message"), str) and err["message"], reply
    if contains:
        assert contains in err["message"], "message lacks %r: %r" % (contains, reply)


def assert_result(reply, id_, result=None):
    assert isinstance(reply, dict) and "result" in reply, "wanted a result, got %r" % (reply,)
    assert reply.get("jsonrpc") == "2.0" and "error" not in reply, reply
    assert reply.get("id") == id_ and type(reply["id"]) is type(id_), (
        "wanted id %r: %r" % (id_, reply))
    if result is not None:
        assert reply["result"] == result, "wanted result %r: %r" % (result, reply)


def assert_still_open(r, ping_id=2):
    assert_result(r["after"], ping_id, {})
    assert r["state"] == "OPEN", "socket is %s" % r["state"]


# --- auth = none over ws:// ---

def test_ping_number_id():
    assert_result(check("ping_number_id")["reply"], 1, {})


def test_ping_string_id():
    assert_result(check("ping_string_id")["reply"], "abc-7", {})


def test_invalid_json_32700_stays_open():
    r = check("invalid_json")
    assert_error(r["reply"], -32700, None)
    assert_still_open(r)


def test_binary_frame_32700_stays_open():
    r = check("binary_frame")
    assert_error(r["reply"], -32700, None)
    assert_still_open(r)


def test_frame_over_64k_32700_stays_open():
    r = check("frame_over_64k")
    assert r["sent_length"] == 65537, r["sent_length"]
    assert_error(r["reply"], -32700, None, contains="64 KiB")
    assert_still_open(r)


def test_frame_of_exactly_64k_answered():
    r = check("frame_of_64k")
    assert r["sent_length"] == 65536, r["sent_length"]
    assert_result(r["reply"], 5, {})
    assert_still_open(r)


def test_batch_array_32600():
    r = check("batch")
    assert_error(r["one"], -32600, None)
    assert_still_open(r)


def test_empty_array_32600():
    assert_error(check("batch")["empty"], -32600, None)


def test_jsonrpc_1_0_32600_id_echoed():
    assert_error(check("jsonrpc_1_0")["reply"], -32600, 9)


def test_unknown_method_32601():
    assert_error(check("unknown_method")["reply"], -32601, 3, contains="no.such.method")


def test_ping_with_params_32602():
    assert_error(check("ping_with_params")["reply"], -32602, 4)


def test_login_auth_none():
    r = check("login_auth_none")
    assert_result(r["reply"], 6)
    res = r["reply"]["result"]
    assert res.get("user") == "alice" and res.get("expires") == 3600, res
    # auth = none issues no token (issue 9: they filled the token table)
    assert "token" not in res, res
    assert_result(r["stats"], 7)


def test_stats_auth_none_without_login():
    r = check("stats_auth_none_no_login")
    assert_result(r["reply"], 8)
    assert isinstance(r["reply"]["result"].get("api"), dict), r["reply"]


def test_call_methods_errors():
    """The call, DTMF and registration methods reject what is wrong with
    the request itself."""
    r = check("not_available_503")
    # registrations belong to a user: this socket never logged in
    assert_error(r["register"], 401, 11)
    assert "log in" in r["register"]["error"]["message"], r["register"]
    assert_error(r["call"], 400, 10)
    assert "sdp" in r["call"]["error"]["message"], r["call"]
    assert_error(r["hangup"], 404, 12)
    assert_error(r["dtmf"], 404, 13)
    assert r["state"] == "OPEN", r["state"]


def test_ten_protocol_errors_close_1008():
    r = check("ten_errors_close_1008")
    assert r["close"].get("code") == 1008, "wanted close 1008, saw %r" % (r["close"],)
    assert r["state"] == "CLOSED", r["state"]
    assert len(r["replies"]) == 10, "wanted 10 error answers, got %r" % (r["replies"],)
    for m in r["replies"]:
        assert_error(m, -32700, None)


def test_nine_errors_ping_nine_stays_open():
    r = check("nine_ping_nine_stays_open")
    assert len(r["errors"]) == 18, r["errors"]
    for m in r["errors"]:
        assert_error(m, -32700, None)
    assert_result(r["ping"], 20, {})
    assert_still_open(r, 21)


def assert_refused(r):
    assert not r["opened"], "socket opened: %r" % (r,)
    assert "open" not in r["events"], r
    assert r["close"].get("code") == 1006, "wanted 1006 (no handshake), saw %r" % (r,)


def test_no_subprotocol_refused():
    assert_refused(check("no_subprotocol"))


def test_wrong_path_refused():
    assert_refused(check("wrong_path"))


# --- auth = users, max_failures = 3 ---

def test_users_stats_before_login_401():
    assert_error(check("users_login")["stats_before"], 401, 1)


def test_users_wrong_password_401():
    assert_error(check("users_login")["wrong"], 401, 2)


def test_users_right_password_logs_in():
    r = check("users_login")
    assert_result(r["right"], 3)
    res = r["right"]["result"]
    assert res.get("user") == "alice" and res.get("expires") == 3600, res
    assert_result(r["stats_after"], 4)
    assert r["stats_after"]["result"]["api"].get("logged_in", 0) >= 1, r["stats_after"]


def test_users_token_login_on_new_socket():
    r = check("users_login")
    assert "token" in r, "no token from the password login: %r" % (r["right"],)
    assert_error(r["stats_fresh"], 401, 5)
    assert_result(r["token"], 6)
    assert r["token"]["result"].get("user") == "alice", r["token"]
    assert_result(r["stats_token"], 7)


def test_users_lockout_429():
    r = check("users_lockout")
    for i, m in enumerate(r["failures"]):
        assert_error(m, 401, 10 + i)
    assert_error(r["locked"], 429, 20)
    assert_error(r["locked_new_socket"], 429, 21)


# --- wss:// with a self-signed certificate ---

def test_wss_ping():
    r = check("wss_ping")
    assert r["url"].startswith("wss://"), r["url"]
    assert_result(r["reply"], 1, {})


if __name__ == "__main__":
    tap_main([
        test_ping_number_id,
        test_ping_string_id,
        test_invalid_json_32700_stays_open,
        test_binary_frame_32700_stays_open,
        test_frame_over_64k_32700_stays_open,
        test_frame_of_exactly_64k_answered,
        test_batch_array_32600,
        test_empty_array_32600,
        test_jsonrpc_1_0_32600_id_echoed,
        test_unknown_method_32601,
        test_ping_with_params_32602,
        test_login_auth_none,
        test_stats_auth_none_without_login,
        test_call_methods_errors,
        test_ten_protocol_errors_close_1008,
        test_nine_errors_ping_nine_stays_open,
        test_no_subprotocol_refused,
        test_wrong_path_refused,
        test_users_stats_before_login_401,
        test_users_wrong_password_401,
        test_users_right_password_logs_in,
        test_users_token_login_on_new_socket,
        test_users_lockout_429,
        test_wss_ping,
    ])
