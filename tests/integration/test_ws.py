"""The signalling adapter over real WebSockets, with python3-websockets as
the client: every envelope rule and every error code the adapter gives
today, frame limits at the byte, fragmentation, subprotocol and path checks,
logins with passwords and tokens across connections, lock-out, the close
after ten protocol errors, wss, and the connection limit; and RFC 6455 as
our own codec speaks it (gateway/api/wsproto.c): raw handshakes and frames
written by hand, since a WebSocket library will not send an unmasked frame."""

import asyncio
import json
import os
import socket
import subprocess
import tempfile

import websockets
from websockets.frames import Opcode

from tandem_harness import Gateway, TANDEM, error_code, recv_id, rpc, tap_main

PING = '{"jsonrpc":"2.0","id":5,"method":"ping"}'


def make_hash(password):
    out = subprocess.run([TANDEM, "--hash-password"], input=password + "\n",
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


HASH = None


def users_extra(more=""):
    global HASH
    if HASH is None:
        HASH = make_hash("correct horse")
    return "[auth]\nmode = users\nmax_failures = 3\n%s[users]\nalice = %s\n" % (more, HASH)


async def expect_closed(ws, code, timeout=5):
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout)
    finally:
        pass
    assert ws.close_code == code, "closed with %r, wanted %r" % (ws.close_code, code)


async def t_envelope(gw):
    async with gw.connect() as ws:
        m = await rpc(ws, "ping", id_=7)
        assert m == {"jsonrpc": "2.0", "id": 7, "result": {}}, m
        m = await rpc(ws, "ping", id_="abc")
        assert m["id"] == "abc" and m["result"] == {}, m
        m = await rpc(ws, "ping", params=[], id_=8)
        assert m["result"] == {}, m
        # unknown method, by-position params, extra params
        m = await rpc(ws, "nosuch", id_=9)
        assert error_code(m) == -32601 and "nosuch" in m["error"]["message"], m
        m = await rpc(ws, "ping", params=[1], id_=10)
        assert error_code(m) == -32602, m
        m = await rpc(ws, "ping", params={"x": 1}, id_=11)
        assert error_code(m) == -32602, m
        m = await rpc(ws, "login", params={}, id_=12)
        assert error_code(m) == -32602 and "params.user" in m["error"]["message"], m
        # a notification (no id) is not answered: the next answer is for id 13
        await ws.send('{"jsonrpc":"2.0","method":"ping"}')
        m = await rpc(ws, "ping", id_=13)
        assert m["id"] == 13


async def t_invalid_requests(gw):
    cases = [
        ('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', None, "batches"),
        ("[]", None, ""),
        ("42", None, ""),
        ('{"id":3,"method":"ping"}', 3, "jsonrpc"),
        ('{"jsonrpc":"1.0","id":4,"method":"ping"}', 4, "jsonrpc"),
        ('{"jsonrpc":"2.0","id":5,"method":7}', 5, "method"),
        ('{"jsonrpc":"2.0","id":[1],"method":"ping"}', None, "id"),
        ('{"jsonrpc":"2.0","id":6,"method":"ping","params":"x"}', 6, "params"),
    ]
    async with gw.connect() as ws:
        for text, id_, word in cases:
            await ws.send(text)
            m = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert error_code(m) == -32600, (text, m)
            assert m["id"] == id_, (text, m)
            assert word in m["error"]["message"], (text, m)
        assert (await rpc(ws, "ping"))["result"] == {}


async def t_parse_errors_keep_open(gw):
    async with gw.connect() as ws:
        await ws.send('{"jsonrpc": "2.0", "id": 1,')
        m = json.loads(await ws.recv())
        assert error_code(m) == -32700 and m["id"] is None, m
        await ws.send(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')   # binary frame
        m = json.loads(await ws.recv())
        assert error_code(m) == -32700 and "binary" in m["error"]["message"], m
        # invalid UTF-8 in a text frame: the library will not send one, so
        # write the frame through its frame writer
        await ws.write_frame(True, Opcode.TEXT, b'{"jsonrpc":"2.0","id":1,"method":"p\xc3\x28"}')
        m = json.loads(await ws.recv())
        assert error_code(m) == -32700 and "UTF-8" in m["error"]["message"], m
        assert (await rpc(ws, "ping", id_=2))["result"] == {}


async def t_frame_size_limit(gw):
    async with gw.connect() as ws:
        exact = PING + " " * (65536 - len(PING))
        assert len(exact.encode()) == 65536
        await ws.send(exact)
        m = json.loads(await ws.recv())
        assert m.get("result") == {}, m
        await ws.send(exact + " ")
        m = json.loads(await ws.recv())
        assert error_code(m) == -32700 and "64 KiB" in m["error"]["message"], m
        # far over the limit, in one frame and fragmented: still answered
        await ws.send(PING + " " * 300000)
        m = json.loads(await ws.recv())
        assert error_code(m) == -32700, m
        await ws.send([PING] + [" " * 20000] * 4)
        m = json.loads(await ws.recv())
        assert error_code(m) == -32700, m
        assert (await rpc(ws, "ping", id_=2))["result"] == {}


async def t_fragmented_message(gw):
    async with gw.connect() as ws:
        parts = ['{"jsonrpc":"2.0",', '"id":77,', '"method":"ping"', "}"]
        await ws.send(parts)        # one message in four WebSocket fragments
        m = json.loads(await ws.recv())
        assert m == {"jsonrpc": "2.0", "id": 77, "result": {}}, m


async def t_ten_errors_close_1008(gw):
    async with gw.connect() as ws:
        for _ in range(9):
            await ws.send("not json")
            assert error_code(json.loads(await ws.recv())) == -32700
        assert (await rpc(ws, "ping"))["result"] == {}   # resets the count
        for _ in range(9):
            await ws.send("[]")
            assert error_code(json.loads(await ws.recv())) == -32600
        assert ws.open
        await ws.send('{"jsonrpc":"2.0","id":1,"method":"nosuch"}')
        assert error_code(json.loads(await ws.recv())) == -32601
        await expect_closed(ws, 1008)


async def t_subprotocol_and_path(gw):
    for kw, url in ((dict(subprotocols=None), gw.url),
                    (dict(subprotocols=["other.v1"]), gw.url),
                    (dict(), gw.url.replace("/ws", "/nope"))):
        try:
            async with websockets.connect(url, open_timeout=3, **kw):
                raise AssertionError("connected with %r %s" % (kw, url))
        except (websockets.exceptions.InvalidHandshake, websockets.exceptions.InvalidStatusCode,
                websockets.exceptions.ConnectionClosed, OSError, EOFError):
            pass
    async with websockets.connect(gw.url, subprotocols=["other.v1", "tandem.v1"]) as ws:
        assert ws.subprotocol == "tandem.v1"



def raw_upgrade(gw, version="13", protocol="tandem.v1", first=b""):
    """A hand-written upgrade (plus `first` bytes in the same write);
    returns (status, head, socket)."""
    s = socket.create_connection(("127.0.0.1", gw.ws_port), timeout=5)
    lines = ["GET /ws HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: " + version, "Sec-WebSocket-Protocol: " + protocol]
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first)
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            break
        head += c
    text = head.decode(errors="replace")
    return (int(text.split()[1]) if text.startswith("HTTP/") else None), text, s


def client_frame(opcode, payload, masked=True, fin=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    ext = bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big")
    if not masked:
        return bytes([b0]) + ext + payload
    key = b"\x0f\x1e\x2d\x3c"
    return (bytes([b0, ext[0] | 0x80]) + ext[1:] + key +
            bytes(c ^ key[i % 4] for i, c in enumerate(payload)))


def server_frame(s):
    def need(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError("closed")
            b += c
        return b
    b0, b1 = need(2)
    assert b0 & 0x80 and not b1 & 0x80, "server frames are whole and unmasked"
    n = b1 & 0x7f
    if n == 126:
        n = int.from_bytes(need(2), "big")
    elif n == 127:
        n = int.from_bytes(need(8), "big")
    return b0 & 0x0f, need(n)


def closed_by_server(s):
    """True when the server ends the connection (after any bytes left)."""
    s.settimeout(5)
    while s.recv(4096):
        pass
    return True


async def t_rfc6455_raw(gw):
    # the section 1.3 example key, and a ping in the handshake's own write
    st, head, s = raw_upgrade(gw, first=client_frame(0x9, b"early"))
    assert st == 101 and "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head
    assert server_frame(s) == (0xa, b"early")
    # a message in fragments with a ping between them, byte by byte
    data = (client_frame(0x1, PING[:9].encode(), fin=False) + client_frame(0x9, b"mid") +
            client_frame(0x0, PING[9:].encode()))
    for i in range(len(data)):
        s.sendall(data[i:i + 1])
    assert server_frame(s) == (0xa, b"mid")
    op, body = server_frame(s)
    assert op == 0x1 and json.loads(body)["result"] == {}, body
    # a client close is echoed with its code, then the server hangs up
    s.sendall(client_frame(0x8, (4000).to_bytes(2, "big") + b"bye"))
    op, body = server_frame(s)
    assert op == 0x8 and int.from_bytes(body[:2], "big") == 4000, body
    assert closed_by_server(s)
    s.close()
    # section 5.1: the server MUST close on an unmasked client frame
    st, head, s = raw_upgrade(gw)
    assert st == 101, head
    s.sendall(client_frame(0x1, PING.encode(), masked=False))
    op, body = server_frame(s)
    assert op == 0x8 and int.from_bytes(body[:2], "big") == 1002, (op, body)
    assert closed_by_server(s)
    s.close()
    # other protocol errors: RSV bit, reserved opcode, close code 1005
    for bad in (bytes([0xc1, 0x80]) + b"\0\0\0\0", client_frame(0x3, b"x"),
                client_frame(0x8, (1005).to_bytes(2, "big"))):
        st, head, s = raw_upgrade(gw)
        s.sendall(bad)
        op, body = server_frame(s)
        assert op == 0x8 and int.from_bytes(body[:2], "big") == 1002, (bad, body)
        s.close()
    # 200 names with ours (~1.2 KB): libwebsockets refused this list
    names = ",".join(["x-proto-%d" % i for i in range(199)] + ["tandem.v1"])
    st, head, s = raw_upgrade(gw, protocol=names)
    assert st == 101 and "Sec-WebSocket-Protocol: tandem.v1\r\n" in head, head
    s.sendall(client_frame(0x9, b"ping"))
    assert server_frame(s) == (0xa, b"ping")
    s.close()
    # section 4.4: an unknown version is answered 426 naming 13
    st, head, s = raw_upgrade(gw, version="8")
    assert st == 426 and "Sec-WebSocket-Version: 13\r\n" in head, head
    assert "Connection: close" in head and closed_by_server(s)
    s.close()
    # plain HTTP on the port: complete answers, then the connection ends
    for req, want in ((b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404),
                      (b"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
                      (b"GET /ws HTTP/1.0\r\n\r\n", 400),
                      (b"GET /ws HTTP/1.1\r\n" + b"X-a: b\r\n" * 100 + b"\r\n", 431)):
        s = socket.create_connection(("127.0.0.1", gw.ws_port), timeout=5)
        s.sendall(req)
        resp = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            resp += c
        s.close()
        head, _, body = resp.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d " % want), (req, resp)
        assert b"Content-Length: %d" % len(body) in head, resp
    # the library's own ping still works
    async with gw.connect() as ws:
        await asyncio.wait_for(await ws.ping(b"lib"), 5)

async def t_methods_without_legs(gw):
    async with gw.connect() as ws:
        # the call methods exist: they check their params and the call id
        for i, method in enumerate(["call", "answer", "reject", "hangup", "candidate",
                                    "register", "unregister", "dtmf", "hold", "resume",
                                    "transfer", "progress", "info", "message",
                                    "renegotiate"]):
            m = await rpc(ws, method, params={}, id_=20 + i)
            assert error_code(m) == -32602, m
        for i, (method, p) in enumerate([("answer", {"call": "nope", "sdp": "v=0"}),
                                         ("reject", {"call": "nope"}),
                                         ("hangup", {"call": "nope"}),
                                         ("candidate", {"call": "nope", "completed": True}),
                                         ("dtmf", {"call": "nope", "digits": "1"})]):
            m = await rpc(ws, method, params=p, id_=30 + i)
            assert error_code(m) == 404 and "nope" in m["error"]["message"], m
        m = await rpc(ws, "call", {"to": "sip:x@127.0.0.1", "sdp": "v=0\r\nx\r\n"}, id_=40)
        assert error_code(m) == 400 and "sdp" in m["error"]["message"], m
        m = await rpc(ws, "dtmf", {"call": "nope", "digits": "1", "gap_ms": 3000}, id_=43)
        assert error_code(m) == -32602 and "gap_ms" in m["error"]["message"], m
        m = await rpc(ws, "reject", {"call": "nope", "code": 200}, id_=41)
        assert error_code(m) == 400 and "code" in m["error"]["message"], m
        m = await rpc(ws, "call", {"to": "sip:x@127.0.0.1", "sdp": "v=0",
                                   "headers": {"Route": "x"}}, id_=42)
        assert error_code(m) == 400 and "X-" in m["error"]["message"], m


async def t_login_none(gw):
    async with gw.connect() as ws:
        m = await rpc(ws, "login", {"user": "alice"})
        r = m["result"]
        # auth = none issues no token (probe row "token table": 100,000 of them
        # filled the table and locked everyone out)
        assert r["user"] == "alice" and r["expires"] == 3600 and "token" not in r, m
        s = await rpc(ws, "stats", id_=2)
        assert s["result"]["api"]["logged_in"] >= 1, s


async def t_login_users_and_tokens():
    with Gateway(users_extra()) as gw:
        async with gw.connect() as ws:
            assert error_code(await rpc(ws, "stats")) == 401
            assert error_code(await rpc(ws, "call", {"to": "sip:x@127.0.0.1"})) == 401
            assert (await rpc(ws, "ping"))["result"] == {}
            m = await rpc(ws, "login", {"user": "alice", "password": "correct horse"})
            token = m["result"]["token"]
            assert m["result"]["user"] == "alice", m
            assert "api" in (await rpc(ws, "stats"))["result"]
            assert error_code(await rpc(ws, "call", {})) == -32602
        # the token logs in again on a new connection, for alice only
        async with gw.connect() as ws:
            m = await rpc(ws, "login", {"user": "bob", "token": token})
            assert error_code(m) == 401, m
            m = await rpc(ws, "login", {"user": "alice", "token": token})
            assert m["result"]["user"] == "alice" and m["result"]["token"] != token, m
            # one use each: the token that logged in is retired
            m = await rpc(ws, "login", {"user": "alice", "token": token})
            assert error_code(m) == 401, m
        assert "correct horse" not in gw.read_log() and token not in gw.read_log()


async def t_lockout_429():
    with Gateway(users_extra()) as gw:
        async with gw.connect() as ws:
            for i in range(3):
                m = await rpc(ws, "login", {"user": "alice", "password": "guess%d" % i}, id_=i)
                assert error_code(m) == 401, m
            m = await rpc(ws, "login", {"user": "alice", "password": "correct horse"}, id_=9)
            assert error_code(m) == 429, m
        # a new connection from the same address is still locked out
        async with gw.connect() as ws:
            m = await rpc(ws, "login", {"user": "alice", "password": "correct horse"})
            assert error_code(m) == 429, m


async def t_unknown_user_same_answer():
    with Gateway(users_extra()) as gw:
        async with gw.connect() as ws:
            a = await rpc(ws, "login", {"user": "alice", "password": "nope"}, id_=1)
            b = await rpc(ws, "login", {"user": "mallory", "password": "nope"}, id_=1)
            assert a == b, (a, b)


async def t_wss():
    d = tempfile.mkdtemp(prefix="tandem-cert-")
    key, cert = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    gw = Gateway("[websocket]\ncert = %s\nkey = %s\n" % (cert, key))
    with gw:
        assert gw.url.startswith("wss://")
        async with gw.connect() as ws:
            assert (await rpc(ws, "ping"))["result"] == {}
        # plain ws:// to a TLS port does not get a session
        try:
            async with websockets.connect(gw.url.replace("wss://", "ws://"),
                                          subprotocols=["tandem.v1"], open_timeout=3) as ws:
                raise AssertionError("plain ws accepted on the wss port")
        except (websockets.exceptions.WebSocketException, OSError, EOFError,
                asyncio.TimeoutError):
            pass


async def t_connection_limit():
    with Gateway("[websocket]\nmax_connections = 2\n") as gw:
        async with gw.connect() as a, gw.connect() as b:
            try:
                async with gw.connect():
                    raise AssertionError("third connection accepted")
            except (websockets.exceptions.WebSocketException, OSError, EOFError):
                pass
            assert (await rpc(a, "ping"))["result"] == {}
            assert (await rpc(b, "ping"))["result"] == {}


def main():
    shared = Gateway()
    shared.start()

    def on_shared(f):
        def run():
            return f(shared)
        run.__name__ = f.__name__
        return run

    tests = [on_shared(t) for t in (t_envelope, t_invalid_requests, t_parse_errors_keep_open,
                                    t_frame_size_limit, t_fragmented_message,
                                    t_ten_errors_close_1008, t_subprotocol_and_path,
                                    t_rfc6455_raw,
                                    t_methods_without_legs, t_login_none)]
    tests += [t_login_users_and_tokens, t_lockout_429, t_unknown_user_same_answer, t_wss,
              t_connection_limit]
    def stop_shared():
        # tap_main ends the process with os._exit: a `finally` here never
        # ran, and the shared gateway outlived the whole test run
        rc = shared.stop()
        return None if rc == 0 else "shared gateway exited %r" % rc

    tap_main(tests, cleanup=stop_shared)


if __name__ == "__main__":
    main()
