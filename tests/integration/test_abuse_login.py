"""Abuse suite, login and WebSocket front door (issue 9 items 5, 6, 7; rows of
docs/../reviews/abuse-probe.md): each attack from the probe, bounded to a few
seconds on loopback, against a live gateway. Each asserts the refusal the
gateway now gives and that a normal user still gets through: a login from
another address, or the full health call (abuse.health_call) where the probe
saw calls fail.

Figures before the fixes (probe): 199 pipelined wrong passwords then the
right one logged in; 1,000 pipelined logins burned 54 s of CPU and delayed
another address's login by 30 s; 100,500 token logins filled the token
table and locked everyone out; 1,200 partial handshakes from one address
made 0/4 health calls succeed; Version 8 was accepted and a long
subprotocol list refused."""

import asyncio
import json
import os
import socket
import subprocess
import time

import websockets

from abuse import Baseline, client, gateway_fds, health_call
from tandem_harness import Gateway, TANDEM, error_code, rpc, tap_main


PASSWORD = "correct horse"
_HASH = []


def users(more=""):
    if not _HASH:
        out = subprocess.run([TANDEM, "--hash-password"], input=PASSWORD + "\n",
                             capture_output=True, text=True, check=True)
        _HASH.append(out.stdout.strip())
    return "[auth]\nmode = users\n%s[users]\nalice = %s\nbob = %s\n" % (more, _HASH[0],
                                                                       _HASH[0])


def cpu_seconds(gw):
    """utime + stime of the gateway process, in seconds."""
    with open("/proc/%d/stat" % gw.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def req(id_, method, params=None):
    m = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        m["params"] = params
    return json.dumps(m)


async def answers(ws, n, timeout=20):
    """The next n answers, by id."""
    got = {}
    deadline = time.monotonic() + timeout
    while len(got) < n:
        m = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if "id" in m:
            got[m["id"]] = m
    return got


def connect(gw, source=None, **kw):
    """gw.connect from a given loopback source address."""
    if source:
        kw["local_addr"] = (source, 0)
    # no client-side back-pressure: with 32 answers unread the client stops
    # reading and its close() waits 10 s for a close frame it does not read
    kw.setdefault("max_queue", None)
    return gw.connect(**kw)


async def stats(gw):
    async with gw.connect() as ws:
        await rpc(ws, "login", {"user": "bob", "password": PASSWORD}, id_=1)
        return (await rpc(ws, "stats", id_=2))["result"]["api"]


async def under_attack(gw, attack, login=None, during_login=None):
    """Awaits the coroutine `attack` while a health call from another
    address runs (logging in with `during_login`, default `login`), then
    makes one more health call after it and waits until the gateway's
    descriptors and call counters are back at their baseline."""
    probe = await client(gw, login, "127.0.0.250")
    try:
        base = await Baseline(gw).take(probe)
        task = asyncio.ensure_future(attack)
        try:
            await health_call(gw, login=during_login or login, source="127.0.0.251")
        finally:
            result = await task
        await health_call(gw, login=login, source="127.0.0.252")
        await base.back(probe)
        return result
    finally:
        await probe.close()


BOB = {"user": "bob", "password": PASSWORD}


# ------------------------------------------------------------- item 5: login

async def t_pipelined_brute_force():
    """50 wrong passwords then the right one, all sent before any answer:
    at most max_failures are tried and the right one gets 429."""
    async def attack(gw):
        ws = await connect(gw, "127.0.0.2")
        for i in range(1, 51):
            await ws.send(req(i, "login", {"user": "alice", "password": "guess%d" % i}))
        await ws.send(req(51, "login", {"user": "alice", "password": PASSWORD}))
        got = await answers(ws, 51)
        await ws.close()
        return got

    with Gateway(users()) as gw:
        got = await under_attack(gw, attack(gw), BOB)
        codes = [error_code(got[i]) for i in range(1, 52)]
        assert codes.count(401) <= 5, codes
        assert codes[-1] == 429 and "result" not in got[51], got[51]
        # another address is not locked out
        c = await client(gw, {"user": "alice", "password": PASSWORD}, "127.0.0.3")
        await c.close()


async def t_hash_queue_flood():
    """200 pipelined logins (distinct users) from one address, socket closed
    0.2 s later: another address logs in within 2 s and the flood burns
    little CPU (was 1,000 logins: 54 s of CPU, the other login 30 s)."""
    async def attack(gw):
        cpu0 = cpu_seconds(gw)
        ws = await connect(gw, "127.0.1.1")
        for i in range(200):
            await ws.send(req(i, "login", {"user": "u%d" % i, "password": "x"}))
        await asyncio.sleep(0.2)
        await ws.close()
        t0 = time.monotonic()
        c = await client(gw, {"user": "alice", "password": PASSWORD}, "127.0.1.2")
        took = time.monotonic() - t0
        await c.close()
        return took, cpu_seconds(gw) - cpu0

    with Gateway(users()) as gw:
        # the CPU figure includes the health call's own login (one hash)
        took, cpu = await under_attack(gw, attack(gw), BOB)
        # 0.2 s measured; 2 s leaves room for a loaded machine (was 30 s)
        assert took < 2.0, "alice's login took %.2f s" % took
        # 4 checks for the flooder's connection, alice's, and the rest
        assert cpu < 2.0, "the flood burned %.2f s of CPU" % cpu
        assert (await stats(gw))["logins_refused"] >= 190


async def t_many_addresses():
    """Wrong logins from 12 addresses, 3 each, past global_max_failures:
    password logins pause for everyone, a token login goes on, and a fresh
    address logs in with the right password once the pause is over."""
    async def attack(gw, token):
        codes = []
        for a in range(12):
            async with connect(gw, "127.0.10.%d" % (a + 1)) as ws:
                for i in range(3):
                    m = await rpc(ws, "login", {"user": "alice", "password": "g%d" % i},
                                  id_=i)
                    codes.append(error_code(m))
        assert codes.count(401) <= 20 and 429 in codes, codes
        async with connect(gw, "127.0.11.1") as ws:
            m = await rpc(ws, "login", {"user": "alice", "password": PASSWORD})
            assert error_code(m) == 429, m
            m = await rpc(ws, "login", {"user": "alice", "token": token}, id_=2)
            assert m["result"]["user"] == "alice", m
        await asyncio.sleep(2.1)
        c = await client(gw, {"user": "alice", "password": PASSWORD}, "127.0.11.2")
        await c.close()

    with Gateway(users("global_max_failures = 20\nglobal_lockout = 2\n")) as gw:
        async with gw.connect() as ws:
            m = await rpc(ws, "login", {"user": "alice", "password": PASSWORD})
            token = m["result"]["token"]
            m = await rpc(ws, "login", BOB, id_=2)
            bob_token = m["result"]["token"]
        # password logins pause for everyone during the attack: the health
        # call made meanwhile logs in with a token, as a live session would
        await under_attack(gw, attack(gw, token), BOB, {"user": "bob", "token": bob_token})
        assert "password logins pause" in gw.read_log()


# ------------------------------------------------------- item 6: token table

async def t_token_table():
    """2,000 chained token logins: each token works once, the table stays
    bounded, and bob still logs in. auth none: no token at all."""
    fast = "[websocket]\nrate = 100000\nburst = 100000\n"
    with Gateway(fast + users()) as gw:
        async with gw.connect() as ws:
            m = await rpc(ws, "login", {"user": "alice", "password": PASSWORD})
            first = token = m["result"]["token"]
            for i in range(2, 2002):
                m = await rpc(ws, "login", {"user": "alice", "token": token}, id_=i)
                token = m["result"]["token"]
            m = await rpc(ws, "login", {"user": "alice", "token": first}, id_=9000)
            assert error_code(m) == 401, m
        st = await stats(gw)
        assert st["tokens"] <= 16 + 1, st
        async with gw.connect() as ws:
            m = await rpc(ws, "login", {"user": "bob", "password": PASSWORD})
            assert m["result"]["user"] == "bob", m
    with Gateway(fast) as gw:
        async with gw.connect() as ws:
            for i in range(2000):
                await ws.send(req(i, "login", {"user": "u%d" % i}))
            got = await answers(ws, 2000)
            assert all("token" not in m["result"] for m in got.values())
            assert (await rpc(ws, "stats", id_=9000))["result"]["api"]["tokens"] == 0
        await health_call(gw)


# --------------------------------------------------------- item 7: WebSocket

def handshake(port, headers=(), source="127.0.0.1", version="13",
              protocol="tandem.v1", path="/ws"):
    """A raw upgrade request; returns (status, response head, socket)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                 source_address=(source, 0))
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: " + version, "Sec-WebSocket-Protocol: " + protocol]
    s.sendall(("\r\n".join(lines + list(headers)) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    text = head.decode(errors="replace")
    status = int(text.split()[1]) if text.startswith("HTTP/") else None
    return status, text, s


def frame(opcode, payload, masked=True):
    b0 = 0x80 | opcode
    if masked:
        key = b"\x01\x02\x03\x04"
        body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        return bytes([b0, 0x80 | len(payload)]) + key + body
    return bytes([b0, len(payload)]) + payload


def read_frame(s):
    """One unmasked server frame from a raw socket: (opcode, payload)."""
    def need(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError("closed after %d of %d bytes" % (len(b), n))
            b += c
        return b
    b0, b1 = need(2)
    n = b1 & 0x7f
    if n == 126:
        n = int.from_bytes(need(2), "big")
    elif n == 127:
        n = int.from_bytes(need(8), "big")
    assert not b1 & 0x80, "server frames are not masked"
    return b0 & 0x0f, need(n)


async def t_handshake_rules():
    """Version 8 gets 426 naming 13; a subprotocol list of 200 names (~1.2 KB,
    refused by libwebsockets) with tandem.v1 is accepted and the socket
    answers a ping; an unmasked client frame gets close 1002 and the TCP
    connection ends (RFC 6455 section 5.1; it used to be accepted); Origin
    rules for auth none and users."""
    with Gateway() as gw:
        st, head, s = handshake(gw.ws_port, version="8")
        s.close()
        assert st == 426 and "sec-websocket-version: 13" in head.lower(), head
        names = ",".join(["p%d" % i for i in range(20)] + ["tandem.v1"])
        st, head, s = handshake(gw.ws_port, protocol=names)
        s.close()
        assert len(names) > 64 and st == 101 and "tandem.v1" in head, head
        names = ",".join(["x-proto-%d" % i for i in range(199)] + ["tandem.v1"])
        st, head, s = handshake(gw.ws_port, protocol=names)
        assert len(names) > 1200 and st == 101, head
        assert "sec-websocket-protocol: tandem.v1\r\n" in head.lower(), head
        s.sendall(frame(0x9, b"still here"))
        assert read_frame(s) == (0xa, b"still here")
        s.sendall(frame(0x1, b'{"jsonrpc":"2.0","id":1,"method":"ping"}'))
        op, data = read_frame(s)
        assert op == 0x1 and json.loads(data)["result"] == {}, data
        s.close()
        st, head, s = handshake(gw.ws_port)
        assert st == 101, head
        s.sendall(frame(0x1, b'{"jsonrpc":"2.0","id":1,"method":"ping"}', masked=False))
        op, data = read_frame(s)
        assert op == 0x8 and int.from_bytes(data[:2], "big") == 1002, (op, data)
        assert s.recv(100) == b"", "still open after the unmasked frame"
        s.close()
        for origin, want in (("http://evil.example", 403), ("null", 403),
                             ("http://127.0.0.1:8000", 101), ("http://localhost:3000", 101),
                             ("https://127.0.0.2", 101), ("http://127.0.0.1.evil.example", 403),
                             (None, 101)):
            hdr = ["Origin: " + origin] if origin else []
            st, head, s = handshake(gw.ws_port, hdr)
            s.close()
            assert st == want, (origin, head)
        assert (await stats_none(gw))["ws_refused"] >= 4
    # auth users: any page may try (it still needs a password) unless listed
    with Gateway(users()) as gw:
        st, head, s = handshake(gw.ws_port, ["Origin: http://evil.example"])
        s.close()
        assert st == 101, head
    with Gateway(users("") + "[websocket]\norigins = https://app.example\n") as gw:
        for origin, want in (("http://evil.example", 403), ("https://app.example", 101)):
            st, head, s = handshake(gw.ws_port, ["Origin: " + origin])
            s.close()
            assert st == want, (origin, head)


async def stats_none(gw):
    async with gw.connect() as ws:
        return (await rpc(ws, "stats"))["result"]["api"]


async def t_slowloris():
    """300 partial handshakes from 127.0.0.9, each reopened as soon as the
    gateway drops it, with max_connections = 100 (lws' descriptor limit is
    164; the probe's 200 made 0/3 health calls work): a health call from
    127.0.0.1 works meanwhile, a lone slow handshake is dropped after
    handshake_timeout, and the descriptors come back afterwards."""
    with Gateway("[websocket]\nmax_connections = 100\nhandshake_timeout = 2\n") as gw:
        fds0 = gateway_fds(gw)
        stop = False

        def partial():
            s = socket.socket()
            s.setblocking(False)
            s.bind(("127.0.0.9", 0))
            try:
                s.connect(("127.0.0.1", gw.ws_port))
            except BlockingIOError:
                pass
            return s

        async def attack():
            socks = [partial() for _ in range(300)]
            sent = set()
            while not stop:
                for i, s in enumerate(socks):
                    try:
                        if i not in sent:
                            s.send(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
                            sent.add(i)
                        else:
                            s.send(b"X-a: b\r\n")
                    except (BlockingIOError, OSError) as e:
                        if not isinstance(e, BlockingIOError):
                            s.close()
                            socks[i] = partial()
                            sent.discard(i)
                await asyncio.sleep(0.5)
            for s in socks:
                s.close()

        lone = socket.create_connection(("127.0.0.1", gw.ws_port), source_address=("127.0.0.10", 0))
        lone.sendall(b"GET /ws HTTP/1.1\r\n")
        lone_t0 = time.monotonic()
        task = asyncio.ensure_future(attack())
        try:
            await asyncio.sleep(1)
            t0 = time.monotonic()
            async with gw.connect(open_timeout=3) as ws:
                assert (await rpc(ws, "ping", timeout=3))["result"] == {}
            await health_call(gw, timeout=10)
            took = time.monotonic() - t0
            # 16 pending handshakes at most; the rest are hung up on at accept
            held = gateway_fds(gw) - fds0
        finally:
            stop = True
            await task
        assert took < 8, "health call took %.1f s" % took
        assert held < 16 + 10, "%d descriptors more during the attack" % held
        lone.settimeout(5)
        assert lone.recv(100) == b"" and time.monotonic() - lone_t0 < 4.5
        lone.close()
        assert (await stats_none(gw))["ws_refused"] > 0
        assert "too many handshakes in progress from this address" in gw.read_log()
        deadline = time.monotonic() + 10
        while gateway_fds(gw) > fds0 + 2:
            assert time.monotonic() < deadline, "fds %d, were %d" % (gateway_fds(gw), fds0)
            await asyncio.sleep(0.2)


async def t_request_rate():
    """A ping flood on one socket: past the burst of 200 the excess gets
    429 and, kept up, the socket is closed with 1008. (Sent in batches
    that are read back, so that the close does not meet unread data and
    become a TCP reset.)"""
    async def attack(gw):
        ws = await connect(gw)
        for i in range(300):
            await ws.send(req(i, "ping"))
        got = await answers(ws, 300)
        codes = [error_code(got[i]) for i in range(300)]
        assert codes.count(None) <= 220 and codes.count(429) >= 80, codes
        n, refused = 300, 0
        try:
            while n < 1000:
                m = await rpc(ws, "ping", id_=n, timeout=5)
                refused += error_code(m) == 429
                n += 1
        except websockets.exceptions.ConnectionClosed:
            pass
        return ws, n, refused

    with Gateway() as gw:
        ws, n, refused = await under_attack(gw, attack(gw))
        assert ws.close_code == 1008 and n < 800, (ws.close_code, n)
        assert refused >= (n - 300) * 0.6, (refused, n)
        assert (await stats_none(gw))["rate_limited"] >= 200


def main():
    tap_main([t_pipelined_brute_force, t_hash_queue_flood, t_many_addresses, t_token_table,
              t_handshake_rules, t_slowloris, t_request_rate])


if __name__ == "__main__":
    main()
