"""Early media and reliable provisionals (issue 11 item 3) through Tandem,
with SIPp as the SIP phone and python3-aiortc as the browser, asserting on
what the peers saw: SIPp's exit code (it fails on any missing or unexpected
message and on every failed header check: RSeq, RAck, Require), the
call.state codes the browser got, and tones: the test's own RTP socket is the
SIP phone's media address, so it both hears the browser's 1 kHz through the
gateway before any 200 was sent and answers with 440 Hz, which the browser
must hear while the call is still early. One gateway for the whole file."""

import asyncio
import os
import socket
import struct
import subprocess
import tempfile
import time

import numpy as np
import websockets

from aiortc import RTCSessionDescription

from aiortc_peer import Client, Recorder, ToneTrack, new_pc, offering_pc
from peers import assert_tone
from tandem_harness import Gateway, free_port, tap_main, wait_udp_bound

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
GW = None


async def connect(user="alice"):
    ws = await websockets.connect(GW.url, subprotocols=["tandem.v1"], max_size=2 ** 22)
    c = Client(ws)
    await c.call("login", {"user": user})
    return c


async def counters_zero(c, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        s = (await c.call("stats"))["calls"]
        if all(s[k] == 0 for k in ("calls", "sip_dialogs", "bridges", "media_legs",
                                   "media_ports")):
            return
        if time.monotonic() > deadline:
            raise AssertionError("resources left behind: %s" % s)
        await asyncio.sleep(0.1)


def sipp(scenario, *args, remote=None):
    """SIPp with `scenario`, returned once it listens on its SIP port (a
    port another test took first is tried anew)."""
    for attempt in range(3):
        port = free_port(also_udp=True)
        cmd = ["sipp"] + ([remote] if remote else []) + [
            "-sf", os.path.join(SIPP_DIR, scenario), "-p", str(port),
            "-m", "1", "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
            "-mp", str(free_port(also_udp=True)), "-timeout", "30", "-timeout_error",
            "-trace_err"] + list(args)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             cwd=tempfile.mkdtemp(prefix="tandem-sipp-"))
        try:
            wait_udp_bound(p, port)
            return p
        except RuntimeError:
            if p.poll() is None:
                p.kill()
            p.wait()
            if attempt == 2:
                raise


def sipp_ok(p, what):
    try:
        out = p.communicate(timeout=30)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out = p.communicate()[0].decode(errors="replace")
    assert p.returncode == 0, "%s: SIPp exited %s: %s" % (what, p.returncode, out[-2000:])


# ------------------------------------------------------------ G.711 mu-law

def ulaw_decode(b):
    u = ~np.frombuffer(b, dtype=np.uint8)
    sign, exp, mant = u & 0x80, (u >> 4) & 7, u & 0x0f
    mag = ((mant.astype(np.int32) << 3) + 0x84) << exp
    return np.where(sign, 0x84 - mag, mag - 0x84) / 32768.0


def ulaw_encode(x):
    s = np.clip((x * 32767).astype(np.int32), -32635, 32635)
    sign = np.where(s < 0, 0x80, 0)
    m = np.abs(s) + 0x84
    exp = np.floor(np.log2(m)).astype(np.int32) - 7
    mant = (m >> (exp + 3)) & 0x0f
    return (~(sign | (exp << 4) | mant) & 0xff).astype(np.uint8).tobytes()


class RtpPhone:
    """The SIP phone's media: a UDP socket that records the PCMU arriving
    and answers each 20 ms packet with 20 ms of 440 Hz to where it came
    from (symmetric RTP), so nothing is sent before the gateway sends."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.pcm, self.seq, self.ts, self.t = [], 0, 0, 0
        self.first_at = None

    def pump(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(2048)
            except BlockingIOError:
                return
            if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7f != 0:
                continue
            cc = data[0] & 0x0f
            self.pcm.append(ulaw_decode(data[12 + 4 * cc:]))
            if self.first_at is None:
                self.first_at = time.monotonic()
            t = (np.arange(160) + self.t) / 8000.0
            self.t += 160
            hdr = struct.pack("!BBHII", 0x80, 0, self.seq & 0xffff, self.ts, 0x5eed)
            self.seq += 1
            self.ts += 160
            self.sock.sendto(hdr + ulaw_encode(0.5 * np.sin(2 * np.pi * 440 * t)), addr)

    async def run_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.pump()
            await asyncio.sleep(0.005)

    def samples(self):
        return np.concatenate(self.pcm) if self.pcm else np.zeros(0)

    def close(self):
        self.sock.close()


# ------------------------------------------------------------ tests

async def test_prack_to_reliable_183(scenario="uas_100rel.xml"):
    """Outgoing call: the SIP phone answers 183 with Require: 100rel and
    RSeq; SIPp fails unless our PRACK (RAck: 4711 1 INVITE) comes before it
    sends the 200. The browser sees early (183), answered (200), and our
    hangup is a BYE SIPp must see."""
    uas = sipp(scenario)
    port = int(uas.args[uas.args.index("-p") + 1])
    c = await connect()
    pc, _ = await offering_pc()
    try:
        r = await c.call("call", {"to": "sip:rel@127.0.0.1:%d" % port,
                                  "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        st = await c.wait_state(r["call"], "early")
        assert st["code"] == 183, st
        st = await c.wait_state(r["call"], ("answered", "ended"), timeout=20)
        assert st["state"] == "answered" and st["code"] == 200, st
        await c.call("hangup", {"call": r["call"]})
        await c.wait_state(r["call"], "ended")
    finally:
        await pc.close()
    sipp_ok(uas, "reliable 183")
    await counters_zero(c)
    await c.close()


async def test_update_in_early_dialog():
    """The same, with two UPDATEs from the phone between our PRACK and its
    200 (RFC 3311 in an early dialog): SIPp fails unless the one without a
    body gets 200 and the one moving the early media gets 488; the call is
    then answered as before."""
    await test_prack_to_reliable_183("uas_100rel_update.xml")


async def test_progress_reliable_early_media():
    """Incoming call that requires 100rel: the 180 and the 183 come reliably
    and are PRACKed (SIPp checks Require and RSeq, and fails on any extra
    message). The browser sends `progress`: the caller gets 183 with SDP,
    and before any 200 the phone hears the browser's 1 kHz and the browser
    the phone's 440 Hz. `answer` without sdp then sends the 200; the phone's
    BYE ends the call."""
    phone = RtpPhone()
    c = await connect()
    uac = sipp("uac_100rel_progress.xml", "-key", "rtpport", str(phone.port),
               remote="127.0.0.1:%d" % GW.sip_port)
    pc, rec = new_pc(), Recorder()
    pc.on("track", lambda t: rec.start(t))
    try:
        inc = (await c.wait_note(lambda m: m["method"] == "incoming", 20))["params"]
        await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
        pc.addTrack(ToneTrack(1000))
        await pc.setLocalDescription(await pc.createAnswer())
        await c.call("progress", {"call": inc["call"], "sdp": pc.localDescription.sdp})
        st = await c.wait_state(inc["call"], ("early", "ended"), timeout=20)
        assert st["state"] == "early" and st["code"] == 183, st
        deadline = time.monotonic() + 15
        while phone.first_at is None and time.monotonic() < deadline:
            await phone.run_for(0.05)
        assert phone.first_at is not None, "no RTP reached the phone while early"
        await phone.run_for(2.5)
        n_early = len(rec.samples()[0])
        # nothing answered yet: SIPp is still waiting for its 200
        assert uac.poll() is None, "SIPp ended before the answer"
        r = await c.request("answer", {"call": inc["call"], "sdp": "v=0 not the same"})
        assert r.get("error", {}).get("code") == 400, r
        await c.call("answer", {"call": inc["call"]})
        st = await c.wait_state(inc["call"], ("answered", "ended"))
        assert st["state"] == "answered" and st["code"] == 200, st
        st = await c.wait_state(inc["call"], "ended", timeout=20)
        assert st.get("code") == 200 or "BYE" in str(st.get("reason", "")), st
    finally:
        rec.stop()
        await pc.close()
        phone.close()
    sipp_ok(uac, "100rel caller")
    assert_tone(phone.samples(), 8000, 1000, 1.5, "phone received while early")
    x, rate = rec.samples()
    assert_tone(x[:n_early], rate, 440, 1.0, "browser received while early")
    await counters_zero(c)
    await c.close()


async def test_late_offer_incoming():
    """An INVITE without SDP: the browser still gets `incoming` with the
    gateway's offer; after its `answer` the 200 carries the gateway's SIP
    offer (SIPp checks for it), the ACK the phone's answer, and only then
    is the call answered. Media flows both ways: the phone hears 1 kHz, the
    browser 440 Hz; the browser's hangup is a BYE SIPp must see."""
    phone = RtpPhone()
    c = await connect()
    uac = sipp("uac_late_offer.xml", "-key", "rtpport", str(phone.port),
               remote="127.0.0.1:%d" % GW.sip_port)
    pc, rec = new_pc(), Recorder()
    pc.on("track", lambda t: rec.start(t))
    try:
        inc = (await c.wait_note(lambda m: m["method"] == "incoming", 20))["params"]
        await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
        pc.addTrack(ToneTrack(1000))
        await pc.setLocalDescription(await pc.createAnswer())
        r = await c.request("progress", {"call": inc["call"], "sdp": pc.localDescription.sdp})
        assert r.get("error", {}).get("code") == 488, r
        await c.call("answer", {"call": inc["call"], "sdp": pc.localDescription.sdp})
        st = await c.wait_state(inc["call"], ("answered", "ended"), timeout=20)
        assert st["state"] == "answered" and st["code"] == 200, st
        deadline = time.monotonic() + 15
        while phone.first_at is None and time.monotonic() < deadline:
            await phone.run_for(0.05)
        assert phone.first_at is not None, "no RTP reached the phone"
        await phone.run_for(2.5)
        await c.call("hangup", {"call": inc["call"]})
        await c.wait_state(inc["call"], "ended")
    finally:
        rec.stop()
        await pc.close()
        phone.close()
    sipp_ok(uac, "late offer caller")
    assert_tone(phone.samples(), 8000, 1000, 1.5, "phone received")
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 1.5, "browser received")
    await counters_zero(c)
    await c.close()


async def test_late_offer_outgoing():
    """[sip] late_offer (a second gateway): the browser's `call` (Opus only)
    becomes an INVITE without SDP (SIPp fails on a body), the phone offers
    PCMU in its 200 and SIPp fails unless our ACK answers PCMU; the browser
    gets answered, and the legs are transcoded Opus <-> PCMU both ways: the
    phone hears 1 kHz, the browser 440 Hz."""
    phone = RtpPhone()
    uas = sipp("uas_late_offer.xml", "-key", "rtpport", str(phone.port))
    port = int(uas.args[uas.args.index("-p") + 1])
    gw = Gateway(extra="[sip]\nlate_offer = true\n").start()
    ws = await websockets.connect(gw.url, subprotocols=["tandem.v1"], max_size=2 ** 22)
    c = Client(ws)
    await c.call("login", {"user": "alice"})
    pc, rec = await offering_pc("opus", record=True)
    try:
        r = await c.call("call", {"to": "sip:late@127.0.0.1:%d" % port,
                                  "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        st = await c.wait_state(r["call"], ("answered", "ended"), timeout=20)
        assert st["state"] == "answered" and st["code"] == 200, st
        deadline = time.monotonic() + 15
        while phone.first_at is None and time.monotonic() < deadline:
            await phone.run_for(0.05)
        assert phone.first_at is not None, "no RTP reached the phone"
        await phone.run_for(2.5)
        s = await c.call("stats", {"call": r["call"]})
        assert s["transcoded"], s
        await c.call("hangup", {"call": r["call"]})
        await c.wait_state(r["call"], "ended")
    finally:
        rec.stop()
        await pc.close()
        phone.close()
    sipp_ok(uas, "late offer callee")
    assert_tone(phone.samples(), 8000, 1000, 1.5, "phone received")
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 1.5, "browser received")
    await counters_zero(c)
    await c.close()
    gw.stop()


def main():
    global GW
    tests = [test_prack_to_reliable_183, test_update_in_early_dialog,
             test_progress_reliable_early_media,
             test_late_offer_incoming, test_late_offer_outgoing]
    only = os.environ.get("TESTS")
    if only:
        tests = [t for t in tests if t.__name__ in only.split(",")]
    GW = Gateway().start()
    print("# gateway log: %s" % GW.log, flush=True)
    # tap_main ends the process (os._exit) and its sweep stops the gateway
    tap_main(tests)


if __name__ == "__main__":
    main()
