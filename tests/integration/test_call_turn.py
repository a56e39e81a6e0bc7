"""The gateway's ICE agent with a STUN server and a TURN client configured,
against a real TURN server (coturn) on loopback: the gateway's answer
carries a relayed candidate, and a call whose browser side is given only
that candidate (host candidates stripped) still carries the tones both ways,
so the media really went through the TURN relay."""

import asyncio
import os
import subprocess
import tempfile
import time

from aiortc import RTCSessionDescription

from aiortc_peer import offering_pc
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, free_port, tap_main
from test_call_aiortc import connect, counters_zero


def start_coturn():
    port = free_port(also_udp=True)
    d = tempfile.mkdtemp(prefix="tandem-turn-")
    relay = free_port(also_udp=True)
    proc = subprocess.Popen(
        ["turnserver", "-n", "-v", "--listening-ip=127.0.0.1", "--listening-port=%d" % port,
         "--relay-ip=127.0.0.1", "--min-port=%d" % relay, "--max-port=%d" % (relay + 50),
         "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--lt-cred-mech",
         "--realm=tandem.test", "--user=tnd:secret", "--no-stdout-log",
         "--log-file=%s/turn.log" % d, "--simple-log", "--pidfile=%s/pid" % d,
         "--userdb=%s/db" % d],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    # ready when it answers a STUN binding request
    import socket
    req = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(req, ("127.0.0.1", port))
            if s.recv(512)[:2] == b"\x01\x01":
                return proc, port, d
        except OSError:
            pass
        finally:
            s.close()
    proc.kill()
    raise RuntimeError("coturn did not answer STUN")


async def test_call_through_turn_relay():
    turn, port, d = start_coturn()
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        conf = ("[media]\nstun_server = 127.0.0.1:%d\nturn_server = 127.0.0.1:%d\n"
                "turn_user = tnd\nturn_password = secret\nturn_only = true\n" % (port, port))
        with Gateway(conf) as gw:
            c = await connect(gw)
            pc, rec = await offering_pc("PCMU", record=True)
            r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
            lines = r["sdp"].split("\r\n")
            cands = [l for l in lines if l.startswith("a=candidate")]
            assert cands and all("typ relay" in l for l in cands), \
                "turn_only: the answer must offer relayed candidates only:\n" + r["sdp"]
            only_relay = "\r\n".join(l for l in lines if not l.startswith("a=candidate") or
                                     "typ relay" in l)
            await pc.setRemoteDescription(RTCSessionDescription(only_relay, "answer"))
            await c.wait_state(r["call"], "answered")
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(4.5)
            await c.call("hangup", {"call": r["call"]})
            await c.wait_state(r["call"], "ended")
            b.wait_event("CALL_CLOSED")
            rec.stop()
            await pc.close()
            x, rate = rec.samples()
            assert_tone(x, rate, 440, 3, "aiortc received (via TURN)")
            await counters_zero(c)
            await c.close()
        # the gateway (force-relay) asked coturn to relay toward the browser
        log = open(os.path.join(d, "turn.log"), errors="replace").read()
        assert "CREATE_PERMISSION processed, success" in log, log[-1500:]
    finally:
        b.stop()
        turn.terminate()
        turn.wait()
    x, rate = b.received()
    assert_tone(x, rate, 1000, 3, "baresip received (via TURN)")


if __name__ == "__main__":
    tap_main([test_call_through_turn_relay])
