#!/usr/bin/env python3
"""Abuse suite, issue 9 item 8: a call to a host name whose DNS server does
not answer must not stall the gateway. Before the fix Sofia's resolver ran
on the signalling thread and, with no route to the DNS server, spun there:
one `call` to sip:echo left the gateway answering no WebSocket handshake for
minutes (147 s and more in the probe).

The test runs in its own network and mount namespace (root, as CI is), with
/etc/resolv.conf bind-mounted over a file of the test's, so the gateway's
DNS goes where the test says: to an address with no route (connect fails),
or to a black hole on 127.0.0.53:53 that reads queries and never answers.
While such a call resolves, a fresh WebSocket (handshake and ping) must
answer within 1 s and a normal call to a SIPp phone at a numeric address
must go through; the DNS call must end within [sip] dns_timeout plus a
margin, with a 503/504 whose reason names DNS; then every counter and the
gateway's descriptors are back to their baseline."""

import asyncio
import os
import socket
import sys
import tempfile
import threading
import time

RESOLV = os.path.join(tempfile.gettempdir(), "tandem-dns-%d.conf" % os.getpid())
if not os.environ.get("TANDEM_IN_NETNS"):
    if os.getuid() != 0:
        # always runs: the suite runs as root (like test_call_netns.py)
        print("1..1\nnot ok 1 - needs root for a network and mount namespace")
        sys.exit(1)
    with open(RESOLV, "w") as f:
        f.write("nameserver 10.255.255.53\n")
    os.environ["TANDEM_IN_NETNS"] = "dns"
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "-n", "-m", "--", "sh", "-c",
                          "mount --make-rprivate / && ip link set lo up && "
                          "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
                          RESOLV, sys.executable] + sys.argv)

import websockets  # noqa: E402

import abuse  # noqa: E402
from aiortc_peer import offering_pc  # noqa: E402
from tandem_harness import Gateway, tap_main  # noqa: E402

DNS_TIMEOUT = 3


def stop_clean(gw):
    """SIGTERM; the gateway (the ASan build too) must exit 0."""
    rc = gw.stop()
    out = gw.proc.stdout.read().decode(errors="replace") if gw.proc.stdout else ""
    assert rc == 0, "gateway exited %s: %s" % (rc, out[-1500:])


def set_resolver(lines):
    # written in place: the bind mount shows the new text, and glibc
    # re-reads resolv.conf when its mtime changes
    with open(RESOLV, "w") as f:
        f.write(lines)
    t = time.time() + 1
    os.utime(RESOLV, (t, t))


class BlackHole:
    """A DNS server that reads every query and answers none."""

    def __init__(self, addr="127.0.0.53"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.queries = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1

    def close(self):
        self.sock.close()


async def fresh_ws_ping(gw):
    """Seconds for a new WebSocket's handshake plus a ping answer."""
    t0 = time.monotonic()
    async with websockets.connect(gw.url, subprotocols=["tandem.v1"], open_timeout=5) as ws:
        await asyncio.wait_for(ws.send('{"jsonrpc":"2.0","id":1,"method":"ping"}'), 5)
        await asyncio.wait_for(ws.recv(), 5)
    return time.monotonic() - t0


async def dns_call(c, to):
    """Places a call to `to`; returns (call id, its start time)."""
    pc, _ = await offering_pc()
    t0 = time.monotonic()
    # answered at once: the SIP leg's lookup must not hold the RPC up
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp}, timeout=2)
    await pc.close()
    return r["call"], t0


async def attack(gw, resolver, to, want_code, during_health):
    set_resolver(resolver)
    c = await abuse.client(gw)
    base = await abuse.Baseline(gw).take(c)
    call, t0 = await dns_call(c, to)
    # while it resolves: the gateway answers new WebSockets at once
    for _ in range(3):
        took = await fresh_ws_ping(gw)
        assert took < 1.0, "WebSocket handshake + ping took %.2f s during the lookup" % took
    if during_health:
        await abuse.health_call(gw)
    ended = await c.wait_state(call, "ended", DNS_TIMEOUT + 3)
    took = time.monotonic() - t0
    assert took < DNS_TIMEOUT + 2, "DNS call ended after %.1f s" % took
    assert ended.get("code") == want_code and "DNS" in ended.get("reason", ""), \
        "DNS call ended without a clear reason: %s" % ended
    await abuse.health_call(gw)
    await base.back(c)
    await c.close()


def test_unreachable_dns_server():
    """The probe's case: no route to the DNS server (Sofia spun in sres)."""
    with Gateway(extra="[sip]\ndns_timeout = %d\n" % DNS_TIMEOUT) as gw:
        asyncio.run(attack(gw, "nameserver 10.255.255.53\n", "sip:echo", 503, False))
        stop_clean(gw)


def test_black_hole_dns_server():
    """A DNS server that never answers: the call waits dns_timeout, alone."""
    hole = BlackHole()
    try:
        with Gateway(extra="[sip]\ndns_timeout = %d\n" % DNS_TIMEOUT) as gw:
            # glibc gives up the SRV query after 2 s, ours the whole lookup
            # after 3 s; its threads let go at 4 s (the descriptor baseline
            # waits for them)
            asyncio.run(attack(gw, "nameserver 127.0.0.53\noptions timeout:2 attempts:1\n",
                               "sip:echo@pbx.example.invalid", 504, True))
            # a lookup may still run in GLib's threads: shutdown is clean anyway
            stop_clean(gw)
        assert hole.queries > 0, "the gateway never asked the DNS server"
    finally:
        hole.close()


def test_name_that_resolves():
    """A host name that does resolve (localhost, from /etc/hosts) still
    reaches its peer: the INVITE goes to the looked-up address."""
    set_resolver("nameserver 10.255.255.53\n")
    with Gateway(extra="[sip]\ndns_timeout = %d\n" % DNS_TIMEOUT) as gw:
        port = abuse.free_port(also_udp=True)
        uas = abuse.sipp_answerer(port)

        async def go():
            c = await abuse.client(gw)
            pc, _ = await offering_pc()
            r = await c.call("call", {"to": "sip:named@localhost:%d" % port,
                                      "sdp": pc.localDescription.sdp})
            await c.wait_state(r["call"], "answered", 10)
            await c.call("hangup", {"call": r["call"]})
            await c.wait_state(r["call"], "ended", 10)
            await pc.close()
            await c.close()
        try:
            asyncio.run(go())
        finally:
            out = uas.communicate(timeout=15)[0]
        assert uas.returncode == 0, "SIPp: " + out.decode(errors="replace")[-500:]
        stop_clean(gw)


def cleanup():
    try:
        os.unlink(RESOLV)
    except OSError:
        pass


if __name__ == "__main__":
    tap_main([test_unreachable_dns_server, test_black_hole_dns_server, test_name_that_resolves],
             cleanup)
