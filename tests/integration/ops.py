"""Shared pieces of the operations tests (test_cdr.py, test_events.py,
test_admin.py; issue 13 items 2, 3 and 5): an HTTP receiver for the call
events' webhook (one that answers, one that fails first, one that accepts
and never answers), a browser call to a SIPp phone, and the CDR file read
back line by line."""

import asyncio
import http.server
import json
import os
import socket
import threading
import time

from aiortc import RTCSessionDescription

from abuse import client
from aiortc_peer import offering_pc


class Receiver:
    """A real HTTP server on a free loopback port that records the JSON body
    of every POST, in arrival order. `fail_first` answers that many POSTs
    503 first (the gateway must retry them, in order)."""

    def __init__(self, fail_first=0):
        self.bodies, self.fails = [], fail_first
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    fail = outer.fails > 0
                    if fail:
                        outer.fails -= 1
                    else:
                        outer.bodies.append(json.loads(body))
                self.send_response(503 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d/hook" % self.port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def events(self):
        with self.lock:
            return list(self.bodies)

    def wait(self, pred, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.events()):
                return self.events()
            time.sleep(0.05)
        raise AssertionError("webhook: condition not met; got %s" %
                             [(e["seq"], e["event"]) for e in self.events()])

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class HungReceiver:
    """Accepts TCP connections and never reads or answers: a receiver that
    hangs. Counts the connections it took."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self.conns, self.stop = [], False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


async def place_call(c, uri):
    """Places a call from the logged-in client `c` to `uri`: (pc, call id)."""
    pc, _ = await offering_pc()
    r = await c.call("call", {"to": uri, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    return pc, r["call"]


async def wait_connected(pc, timeout=15):
    deadline = time.monotonic() + timeout
    while pc.connectionState != "connected":
        assert pc.connectionState not in ("failed", "closed"), pc.connectionState
        assert time.monotonic() < deadline, "ICE/DTLS not connected"
        await asyncio.sleep(0.05)


async def answered_call(gw, uri, user="alice", media_s=0):
    """A browser call answered and connected: (client, pc, call id)."""
    c = await client(gw, {"user": user})
    pc, call = await place_call(c, uri)
    st = await c.wait_state(call, "answered", 15)
    assert st["code"] == 200, st
    await wait_connected(pc)
    await asyncio.sleep(media_s)
    return c, pc, call


def cdrs(path):
    """The CDR file's records; every line must be one JSON object."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    assert text == "" or text.endswith("\n"), "CDR file ends in a partial line"
    return [json.loads(line) for line in text.splitlines()]


def wait_cdr(path, call, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in cdrs(path) if r["call"] == call]
        if found:
            assert len(found) == 1, "more than one CDR for %s: %s" % (call, found)
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError("no CDR for call %s in %s: %s" % (call, path, cdrs(path)))
        time.sleep(0.05)
