"""Shared pieces of the abuse suite (tests/integration/test_abuse_*.py): the
health check a real user would notice failing, and the gateway's resource
baseline that every attack must give back.

The health call is a normal call as a user makes it: an aiortc browser logs
in, calls a SIPp phone that rings (183) and answers (200), ICE and DTLS
complete, we hang up and SIPp must see our BYE. An attack passes only if
this works while it runs and after it stops, and if the gateway's open
descriptors and its calls, dialogs, bridges, legs and media ports come back
to where they were before the attack."""

import asyncio
import os
import subprocess
import tempfile
import time

import websockets
from aiortc import RTCSessionDescription

from aiortc_peer import Client, offering_pc
from tandem_harness import free_port, track

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
COUNTERS = ("calls", "sip_dialogs", "bridges", "media_legs", "media_ports")


def gateway_fds(gw):
    """Descriptors the gateway process holds now."""
    return len(os.listdir("/proc/%d/fd" % gw.proc.pid))


async def client(gw, login=None, source=None):
    """A logged-in Client. `login` is the login params (default: alice with
    no password, for auth = none); `source` a loopback address to connect
    from (127.0.0.0/8 is all ours), so per-address limits can be exercised."""
    kw = {"subprotocols": ["tandem.v1"], "max_size": 2 ** 22, "open_timeout": 10}
    if source:
        kw["local_addr"] = (source, 0)
    ws = await websockets.connect(gw.url, **kw)
    c = Client(ws)
    if login is not False:
        await c.call("login", login or {"user": "alice"})
    return c


async def counters(c):
    s = (await c.call("stats"))["calls"]
    return {k: s[k] for k in COUNTERS}


class Baseline:
    """What the gateway holds with no call up: taken before an attack,
    compared after it (with some time for the gateway to let go)."""

    def __init__(self, gw, slack_fds=2):
        self.gw, self.slack = gw, slack_fds
        self.fds = None

    async def take(self, c):
        self.fds = gateway_fds(self.gw)
        got = await counters(c)
        assert all(v == 0 for v in got.values()), "baseline with resources held: %s" % got
        return self

    async def back(self, c, timeout=20):
        """Waits until counters are all 0 and fds are back to the baseline
        (within `slack_fds`: the probe's own connection, a log rotation)."""
        deadline = time.monotonic() + timeout
        while True:
            got = await counters(c)
            fds = gateway_fds(self.gw)
            if all(v == 0 for v in got.values()) and fds <= self.fds + self.slack:
                return got, fds
            if time.monotonic() > deadline:
                raise AssertionError("not back to baseline after %d s: %s, fds %d (was %d)" %
                                     (timeout, got, fds, self.fds))
            await asyncio.sleep(0.2)


def udp_bound(port):
    """Whether some socket of this network namespace is bound to UDP `port`."""
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(":%04X" % port) for line in list(f)[1:])


def sipp_answerer(port):
    """A SIPp phone on `port` that sends 183 and 200 with PCMU and exits 0
    only after it received our BYE."""
    cmd = ["sipp", "-sf", os.path.join(SIPP_DIR, "uas_answer_bye.xml"), "-p", str(port),
           "-m", "1", "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
           "-mp", str(free_port(also_udp=True)), "-timeout", "30", "-timeout_error",
           "-trace_err"]
    proc = track(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  cwd=tempfile.mkdtemp(prefix="tandem-sipp-")))
    wait_udp_bound(port, proc)
    if proc.poll() is not None or not udp_bound(port):
        # its port (or media port) was taken after free_port chose it
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise RuntimeError("SIPp did not bind UDP %d" % port)
    return proc


def sipp_answerer_free():
    """sipp_answerer on a free port, tried anew if another test took it
    between the choice and SIPp's bind: (proc, port)."""
    for attempt in range(3):
        port = free_port(also_udp=True)
        try:
            return sipp_answerer(port), port
        except RuntimeError:
            if attempt == 2:
                raise


def wait_udp_bound(port, proc, timeout=5):
    """Readiness without sleeping for it: the port shows in /proc/net/udp
    once SIPp listens (an INVITE sent earlier gets ICMP unreachable: 503)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and not udp_bound(port):
        time.sleep(0.01)


async def health_call(gw, login=None, timeout=15, source=None):
    """One normal call end to end; raises AssertionError saying which step
    failed. Returns the seconds from `call` to `answered`."""
    uas, port = sipp_answerer_free()
    c = pc = None
    try:
        c = await asyncio.wait_for(client(gw, login, source), timeout)
        pc, _ = await offering_pc()
        t0 = time.monotonic()
        r = await c.call("call", {"to": "sip:health@127.0.0.1:%d" % port,
                                  "sdp": pc.localDescription.sdp}, timeout=timeout)
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        await c.wait_state(r["call"], "answered", timeout)
        setup = time.monotonic() - t0
        deadline = time.monotonic() + timeout
        while pc.connectionState != "connected":
            assert pc.connectionState not in ("failed", "closed"), \
                "health call: ICE/DTLS " + pc.connectionState
            assert time.monotonic() < deadline, "health call: ICE/DTLS not connected"
            await asyncio.sleep(0.05)
        await c.call("hangup", {"call": r["call"]})
        await c.wait_state(r["call"], "ended", timeout)
    finally:
        if pc:
            await pc.close()
        if c:
            await c.close()
        try:
            out = uas.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            uas.kill()
            out = uas.communicate()[0]
    assert uas.returncode == 0, "health call: SIPp did not see the call through: " + \
        out.decode(errors="replace")[-800:]
    return setup
