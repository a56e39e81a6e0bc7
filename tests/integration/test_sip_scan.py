"""No open relay under a scan (issue 11 item 8): Debian's sipvicious tools
and a SIPp burst of 1,000 INVITEs to random numbers, all from sources the
gateway does not trust, against a gateway with a trunk whose dial plan
would take any number.

The trunk is a plain UDP socket standing in for the carrier: it must
receive nothing. The gateway must place no call (`stats` calls_total and
/metrics tandem_call_attempts_total stay 0), svwar must find no extension,
svcrack must crack nothing (untrusted INVITEs need digest credentials here,
[sip] inbound_user, so svcrack really guesses), and a normal call
(aiortc browser -> gateway -> baresip, each hearing the other's tone) works
while the burst runs and after it.

The per-source rate limit and block are off here ([sip] rate and
block_after = 0; test_abuse_sip.py tests them), so every answer the tools
see is the gateway's plain one: with them on, svwar takes the switch to a
blocked source's 403 midway through its range for a difference between
extensions, when it is one in time."""

import asyncio
import os
import random
import re
import socket
import subprocess
import tempfile
import threading

from aiortc import RTCSessionDescription

from abuse import client
from aiortc_peer import offering_pc
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, free_port, tap_main, track
from test_metrics import fetch, parse

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
TRUNK = free_port(also_udp=True)
CONF = """[sip]
trusted = 127.0.0.3
inbound_user = 100
inbound_password = Zr8-kW2-vq9-Lm4
rate = 0
block_after = 0
[trunks]
carrier.address = sip:127.0.0.1:%d
[dialplan]
any = any -> carrier
""" % TRUNK

GW = Gateway(extra=CONF, log_level="info")


class TrunkStandIn:
    """Counts every datagram that reaches the trunk's address."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.got = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                self.got.append(self.sock.recv(65535))
            except socket.timeout:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


STAND_IN = TrunkStandIn(TRUNK)


def tool(*args, timeout=40):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                       cwd=tempfile.mkdtemp(prefix="tandem-sv-"))
    return p.stdout + p.stderr


async def no_call_placed(health_calls=0):
    """Only our own health calls (browser to SIPp) were ever made."""
    c = await client(GW)
    try:
        st = (await c.call("stats"))["calls"]
        assert st["calls_total"] == health_calls, st
    finally:
        await c.close()
    attempts = {dict(k[1]).get("direction"): v for k, v in parse(fetch(GW)).items()
                if k[0] == "tandem_call_attempts_total"}
    assert attempts.get("in", 0) == 0 and attempts.get("out", 0) == health_calls, attempts
    assert not STAND_IN.got, STAND_IN.got[:2]


async def test_svmap_svwar_find_nothing():
    # each tool on a port of its own (they all default to 5060): our 401
    # retransmissions to svcrack's unACKed INVITEs must not reach svwar
    out = tool("svmap", "-P", str(free_port(also_udp=True)), "-p", str(GW.sip_port),
               "127.0.0.1")
    # it sees a SIP device; no version, nothing about users
    assert "127.0.0.1:%d" % GW.sip_port in out, out
    assert not re.search(r"Tandem[ /]*[0-9]", out), out
    for method in ("REGISTER", "INVITE", "OPTIONS"):
        out = tool("svwar", "-P", str(free_port(also_udp=True)), "-p", str(GW.sip_port),
                   "-e", "100-130", "-m", method, "127.0.0.1")
        assert "| Extension" not in out and "found nothing" in out, (method, out)
    await no_call_placed()


async def test_svcrack_cracks_nothing():
    # svcrack does not ACK our 401s, so it keeps reading their
    # retransmissions for Timer H (32 s) once out of guesses: it is stopped
    # after it said so
    cmd = ["svcrack", "-v", "-P", str(free_port(also_udp=True)), "-p", str(GW.sip_port), "-u", "100", "-m", "INVITE", "-r",
           "1000-1015", "--maximumtime", "2", "127.0.0.1"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=12,
                           cwd=tempfile.mkdtemp(prefix="tandem-sv-"))
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                      for x in (e.stdout, e.stderr))
    assert "no more passwords" in out, out[-1500:]
    assert "The password for" not in out and "| Extension" not in out, out[-1500:]
    await no_call_placed()


def burst(source):
    d = tempfile.mkdtemp(prefix="tandem-burst-")
    csv = os.path.join(d, "numbers.csv")
    with open(csv, "w") as f:
        f.write("RANDOM\n")
        for _ in range(1000):
            f.write("%s\n" % random.choice(["00", "0", "+", "9"]) +
                    "".join(random.choice("0123456789") for _ in range(10)))
    cmd = ["sipp", "127.0.0.1:%d" % GW.sip_port, "-sf", os.path.join(SIPP_DIR, "uac_burst.xml"),
           "-inf", csv, "-m", "1000", "-r", "400", "-l", "200", "-i", source,
           "-p", str(free_port(also_udp=True)), "-mi", source,
           "-mp", str(free_port(also_udp=True)), "-nostdin", "-trace_err",
           "-recv_timeout", "3000", "-timeout", "30", "-default_behaviors", "all,-abortunexp"]
    return track(subprocess.Popen(cmd, cwd=d, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT))


async def baresip_call(b, seconds=2.5):
    """A normal call, aiortc browser -> gateway -> baresip, with baresip's
    440 Hz arriving at the browser."""
    c = await client(GW)
    pc, rec = await offering_pc("PCMU", record=True)
    try:
        r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp}, timeout=20)
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        await c.wait_state(r["call"], "answered", 20)
        b.wait_event("CALL_ESTABLISHED")
        await asyncio.sleep(seconds)
        await c.call("hangup", {"call": r["call"]})
        await c.wait_state(r["call"], "ended", 10)
        b.wait_event("CALL_CLOSED")
    finally:
        rec.stop()
        await pc.close()
        await c.close()
    x, rate = rec.samples()
    assert_tone(x, rate, 440, seconds - 1.0, "aiortc received")


async def test_invite_burst_places_no_call():
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        sp = burst("127.0.0.30")
        try:
            await baresip_call(b)      # while the burst runs
        finally:
            out = await asyncio.get_running_loop().run_in_executor(
                None, lambda: sp.communicate(timeout=45)[0])
        # SIPp saw answers, not silence: each INVITE was refused (401 or 403)
        m = re.findall(rb"Successful call +\| +\d+ +\| +(\d+)", out)
        assert m and int(m[-1]) >= 990, out[-1500:]
        await baresip_call(b)          # and after it
    finally:
        b.stop()
    x, rate = b.received()
    assert_tone(x, rate, 1000, 1.5, "baresip received")
    await no_call_placed(health_calls=2)


def cleanup():
    GW.__exit__(None, None, None)
    STAND_IN.close()


if __name__ == "__main__":
    GW.start()
    tap_main([test_svcrack_cracks_nothing, test_svmap_svwar_find_nothing,
              test_invite_burst_places_no_call], cleanup)
