"""Calls through Tandem with python3-aiortc as the browser and baresip (or
SIPp) as the SIP phone, asserting on what arrived: the dominant frequency of
the recorded audio on each side (1 kHz sent from the browser side, 440 Hz
from the SIP side, so a looped-back stream fails), the call.state codes the
browser side saw, the SIP status the SIP peer saw, and the gateway's own
counters of calls, dialogs, bridges and media ports back at zero."""

import asyncio
import os
import signal
import socket
import subprocess
import tempfile
import time

import websockets

from aiortc import RTCSessionDescription

from aiortc_peer import Client, Recorder, ToneTrack, new_pc, offering_pc
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, free_port, tap_main, wait_udp_bound

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
MEDIA_SECONDS = 4.5


async def connect(gw, user="alice"):
    ws = await websockets.connect(gw.url, subprotocols=["tandem.v1"], max_size=2 ** 22)
    c = Client(ws)
    await c.call("login", {"user": user})
    return c


async def counters_zero(c, timeout=5):
    """The gateway's leak counters: everything a call held is released."""
    deadline = time.monotonic() + timeout
    while True:
        s = (await c.call("stats"))["calls"]
        if all(s[k] == 0 for k in ("calls", "sip_dialogs", "bridges", "media_legs",
                                   "media_ports")):
            return s
        if time.monotonic() > deadline:
            raise AssertionError("resources left behind: %s" % s)
        await asyncio.sleep(0.1)


def garbage_packets():
    """Things that are not our peers' media: empty and tiny datagrams, STUN
    with a bad length, DTLS-looking records, RTP with a bad version or
    truncated, RTCP with a length past the end, and bytes in no RFC 7983
    range."""
    return [b"", b"\x00", b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12,
            b"\x16\xfe\xfd" + os.urandom(40), b"\x40\x00" + os.urandom(30),
            b"\x80\x00\x00", b"\x80\xc8\x00\xff" + os.urandom(8),
            b"\xff" * 100, os.urandom(1400)]


async def blast_garbage(gw):
    """Sends garbage at every port of the gateway's media range, from a
    source that is neither peer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for port in range(gw.media_base, gw.media_base + 200):
        for p in garbage_packets():
            try:
                s.sendto(p, ("127.0.0.1", port))
            except OSError:
                pass
    s.close()


async def browser_calls_phone(codec, garbage=False):
    wav = "tone440_48k_stereo.wav" if codec == "opus" else "tone440_48k.wav"
    b = Baresip("b", source_wav=os.path.join(tones(), wav), codecs=codec.lower()).start()
    try:
        await phone_call(b, codec, garbage)
    finally:
        b.stop()
    x, rate = b.received()
    assert_tone(x, rate, 1000, 3, "baresip received")


async def phone_call(b, codec, garbage):
    with Gateway() as gw:
        c = await connect(gw)
        pc, rec = await offering_pc(codec, record=True)
        r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
        call = r["call"]
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        st = await c.wait_state(call, "answered")
        assert st["code"] == 200, st
        b.wait_event("CALL_ESTABLISHED")
        await asyncio.sleep(MEDIA_SECONDS)
        if garbage:
            await blast_garbage(gw)
            await asyncio.sleep(1.5)
        if garbage:
            # RTCP crossed the gateway: aiortc matched baresip's reports
            # (SSRCs rewritten by the bridge) to the stream it sends.
            # baresip reports every 5 s.
            deadline = time.monotonic() + 12
            while True:
                remote = [s for s in (await pc.getStats()).values()
                          if s.type == "remote-inbound-rtp"]
                if remote or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert remote and remote[0].packetsLost is not None, \
                "no RTCP receiver report reached the browser side"
            assert remote[0].packetsLost < 20, remote[0]
        await c.call("hangup", {"call": call})
        st = await c.wait_state(call, "ended")
        b.wait_event("CALL_CLOSED")
        rec.stop()
        await pc.close()
        x, rate = rec.samples()
        assert_tone(x, rate, 440, 3, "aiortc received")
        s = await counters_zero(c)
        if garbage:
            assert s["media_dropped"] > 0, s
        assert (await c.call("ping")) == {}
        await c.close()


async def test_sip_peer_killed_call_ends():
    """A SIP peer that dies without a BYE (kill -9) stops its RTP and RTCP;
    after [media] timeout the gateway ends the call: the browser side hears
    `ended` with the reason, and every resource is released."""
    b = Baresip("b", codecs="pcmu").start()
    try:
        with Gateway("[media]\ntimeout = 2\n") as gw:
            c = await connect(gw)
            pc, _ = await offering_pc("PCMU")
            r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
            call = r["call"]
            await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
            assert (await c.wait_state(call, "answered"))["code"] == 200
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(3)
            # still up: both sides send, so 3 s past the 2 s timeout is fine
            assert (await c.call("stats"))["calls"]["calls"] == 1
            t0 = time.monotonic()
            b.proc.kill()
            b.proc.wait()
            st = await c.wait_state(call, "ended", timeout=10)
            waited = time.monotonic() - t0
            assert "no media from the SIP side" in st.get("reason", ""), st
            assert 1.5 <= waited <= 6, "ended %.1f s after the kill" % waited
            await counters_zero(c)
            await pc.close()
            await c.close()
    finally:
        b.stop()


async def test_aiortc_calls_baresip_pcmu():
    await browser_calls_phone("PCMU")


async def test_aiortc_calls_baresip_opus():
    await browser_calls_phone("opus")


async def test_garbage_on_media_ports():
    """Garbage on every media port mid-call: dropped and counted, the call
    goes on with the right tones both ways, nothing crashes."""
    await browser_calls_phone("PCMU", garbage=True)


async def test_baresip_calls_aiortc_user():
    with Gateway() as gw:
        c = await connect(gw, "alice")
        b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                    codecs="pcmu").start()
        try:
            await answer_baresip(gw, c, b)
        finally:
            b.stop()
        x, rate = b.received()
        assert_tone(x, rate, 1000, 3, "baresip received")


async def answer_baresip(gw, c, b, seconds=MEDIA_SECONDS):
    b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
    inc = (await c.wait_note(lambda m: m["method"] == "incoming"))["params"]
    assert inc["to"].startswith("sip:alice@") and "sip:b@" in inc["from"], inc
    pc = new_pc()
    rec = Recorder()
    pc.on("track", lambda t: rec.start(t))
    await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
    pc.addTrack(ToneTrack(1000))
    await pc.setLocalDescription(await pc.createAnswer())
    await c.call("answer", {"call": inc["call"], "sdp": pc.localDescription.sdp})
    await c.wait_state(inc["call"], "answered")
    b.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(max(seconds - 5, 0))
    n0 = len(rec.samples()[0])
    await asyncio.sleep(min(seconds, 5))
    assert pc.iceConnectionState in ("completed", "connected"), pc.iceConnectionState
    b.hangup()          # BYE from the SIP side
    st = await c.wait_state(inc["call"], "ended")
    # the BYE ended it, not the gateway on its own (consent lost, say)
    assert st.get("code") == 200 or "BYE" in str(st.get("reason", "")), st
    rec.stop()
    await pc.close()
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 3, "aiortc received")
    if seconds > 10:
        assert_tone(x[n0:], rate, 440, 4, "aiortc received in the last 5 s")
    await counters_zero(c)
    await c.close()


async def test_offline_user_gets_480():
    with Gateway() as gw:
        b = Baresip("b").start()
        try:
            b.dial("sip:nobody@127.0.0.1:%d" % gw.sip_port)
            e = b.wait_event("CALL_CLOSED")
            assert "480" in e.get("param", ""), e
        finally:
            b.stop()


def sipp_uas(scenario, port):
    cmd = ["sipp", "-sf", os.path.join(SIPP_DIR, scenario), "-p", str(port), "-m", "1",
           "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
           "-mp", str(free_port(also_udp=True)), "-timeout", "20", "-timeout_error",
           "-trace_err"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         cwd=tempfile.mkdtemp(prefix="tandem-sipp-"))
    wait_udp_bound(p, port)   # an INVITE before its bind ends the call at once
    return p


async def offer_pcmu(c, to):
    pc, _ = await offering_pc()
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    return pc, r["call"]


async def test_busy_486():
    port = free_port(also_udp=True)
    uas = sipp_uas("uas_busy.xml", port)
    with Gateway() as gw:
        c = await connect(gw)
        pc, call = await offer_pcmu(c, "sip:busy@127.0.0.1:%d" % port)
        st = await c.wait_state(call, "ended")
        assert st["code"] == 486, st
        await pc.close()
        await counters_zero(c)
        await c.close()
    out = uas.communicate(timeout=20)[0]
    assert uas.returncode == 0, out[-1500:]


async def test_early_media_then_answer():
    """183 with SDP becomes call.state early (media may flow from then), the
    200 answered; our hangup is a BYE the SIP side must see."""
    port = free_port(also_udp=True)
    uas = sipp_uas("uas_answer_bye.xml", port)
    with Gateway() as gw:
        c = await connect(gw)
        pc, call = await offer_pcmu(c, "sip:early@127.0.0.1:%d" % port)
        st = await c.wait_state(call, "early")
        assert st["code"] == 183, st
        st = await c.wait_state(call, "answered")
        assert st["code"] == 200, st
        await c.call("hangup", {"call": call})
        st = await c.wait_state(call, "ended")
        await pc.close()
        await counters_zero(c)
        await c.close()
    out = uas.communicate(timeout=20)[0]
    assert uas.returncode == 0, "SIPp did not see our BYE: " + out.decode()[-1500:]


async def test_outbound_proxy():
    """With [sip] outbound_proxy set, the INVITE goes to the proxy whatever
    the request URI says: the URI names a port nobody listens on, the busy
    SIPp behind the proxy answers 486."""
    port = free_port(also_udp=True)
    dead = free_port(also_udp=True)
    uas = sipp_uas("uas_busy.xml", port)
    with Gateway("[sip]\noutbound_proxy = sip:127.0.0.1:%d;lr\n" % port) as gw:
        c = await connect(gw)
        pc, call = await offer_pcmu(c, "sip:far@127.0.0.1:%d" % dead)
        st = await c.wait_state(call, "ended")
        assert st["code"] == 486, st
        await pc.close()
        await counters_zero(c)
        await c.close()
    out = uas.communicate(timeout=20)[0]
    assert uas.returncode == 0, out.decode()[-1500:]


async def test_dial_plan_403():
    """[calls] allow: a destination outside it gets 403 and no INVITE leaves
    (a UDP socket at that destination hears nothing); one inside rings."""
    trap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trap.bind(("127.0.0.1", 0))
    trap.settimeout(1.0)
    port = free_port(also_udp=True)
    uas = sipp_uas("uas_busy.xml", port)
    with Gateway("[calls]\nallow = sip:*@127.0.0.1:%d\n" % port) as gw:
        c = await connect(gw)
        pc, _ = await offering_pc()
        m = await c.request("call", {"to": "sip:premium@127.0.0.1:%d" % trap.getsockname()[1],
                                     "sdp": pc.localDescription.sdp})
        assert m["error"]["code"] == 403 and "dial plan" in m["error"]["message"], m
        try:
            trap.recv(2048)
            raise AssertionError("an INVITE left for a forbidden destination")
        except socket.timeout:
            pass
        r = await c.call("call", {"to": "sip:ok@127.0.0.1:%d" % port,
                                  "sdp": pc.localDescription.sdp})
        st = await c.wait_state(r["call"], "ended")
        assert st["code"] == 486, st
        await pc.close()
        await counters_zero(c)
        await c.close()
    trap.close()
    out = uas.communicate(timeout=20)[0]
    assert uas.returncode == 0, out.decode()[-1500:]


async def test_sigterm_hangs_up_calls():
    """SIGTERM in mid-call: the browser hears call.state ended and a 1001
    close, the SIP phone a BYE, and the gateway exits 0."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        gw = Gateway().start()
        c = await connect(gw)
        pc, call = await offer_pcmu(c, b.uri)
        await c.wait_state(call, "answered")
        b.wait_event("CALL_ESTABLISHED")
        gw.signal(signal.SIGTERM)
        st = await c.wait_state(call, "ended")
        assert "shutting down" in st["reason"], st
        await asyncio.wait_for(c.ws.wait_closed(), 5)
        assert c.ws.close_code == 1001, c.ws.close_code
        e = b.wait_event("CALL_CLOSED")
        assert gw.proc.wait(10) == 0
        await pc.close()
    finally:
        b.stop()


async def test_cancel_before_answer():
    port = free_port(also_udp=True)
    uas = sipp_uas("uas_ring_cancel.xml", port)
    with Gateway() as gw:
        c = await connect(gw)
        pc, call = await offer_pcmu(c, "sip:ring@127.0.0.1:%d" % port)
        await c.wait_state(call, "ringing")
        await c.call("hangup", {"call": call})
        st = await c.wait_state(call, "ended")
        assert st["code"] == 487, st
        await pc.close()
        await counters_zero(c)
        await c.close()
    out = uas.communicate(timeout=20)[0]
    assert uas.returncode == 0, "SIPp did not see CANCEL: " + out.decode()[-1500:]


async def test_bad_offers():
    with Gateway() as gw:
        c = await connect(gw)
        m = await c.request("call", {"to": "sip:x@127.0.0.1", "sdp": "v=0\r\nbogus\r\n"})
        assert m["error"]["code"] == 400 and "sdp" in m["error"]["message"], m
        pc, _ = await offering_pc()
        sdp = pc.localDescription.sdp
        nofp = "\r\n".join(l for l in sdp.split("\r\n") if not l.startswith("a=fingerprint"))
        m = await c.request("call", {"to": "sip:x@127.0.0.1", "sdp": nofp})
        assert m["error"]["code"] == 488 and "fingerprint" in m["error"]["message"], m
        # a codec the gateway neither relays nor transcodes
        gsm = sdp.replace("PCMU/8000", "GSM/8000")
        m = await c.request("call", {"to": "sip:x@127.0.0.1", "sdp": gsm})
        assert m["error"]["code"] == 488, m
        m = await c.request("call", {"to": "mailto:x@example.com", "sdp": sdp})
        assert m["error"]["code"] == 400 and "to" in m["error"]["message"], m
        m = await c.request("hangup", {"call": "nosuch"})
        assert m["error"]["code"] == 404, m
        await pc.close()
        await counters_zero(c)
        await c.close()


async def test_forking_first_answer_wins():
    """alice on two WebSockets: both ring, the first answer wins, the other
    socket hears "answered elsewhere", and its late answer gets 409."""
    with Gateway() as gw:
        c1 = await connect(gw, "alice")
        c2 = await connect(gw, "alice")
        b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                    codecs="pcmu").start()
        try:
            b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
            i1 = (await c1.wait_note(lambda m: m["method"] == "incoming"))["params"]
            i2 = (await c2.wait_note(lambda m: m["method"] == "incoming"))["params"]
            assert i1["call"] == i2["call"], (i1, i2)
            pc = new_pc()
            rec = Recorder()
            pc.on("track", lambda t: rec.start(t))
            await pc.setRemoteDescription(RTCSessionDescription(i2["sdp"], "offer"))
            pc.addTrack(ToneTrack(1000))
            await pc.setLocalDescription(await pc.createAnswer())
            await c2.call("answer", {"call": i2["call"], "sdp": pc.localDescription.sdp})
            st = await c1.wait_state(i1["call"], "ended")
            assert st["reason"] == "answered elsewhere", st
            late = await c1.request("answer", {"call": i1["call"],
                                               "sdp": pc.localDescription.sdp})
            assert late["error"]["code"] == 409, late
            await c2.wait_state(i2["call"], "answered")
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(3.5)
            await c2.call("hangup", {"call": i2["call"]})
            await c2.wait_state(i2["call"], "ended")
            b.wait_event("CALL_CLOSED")
            rec.stop()
            await pc.close()
            x, rate = rec.samples()
            assert_tone(x, rate, 440, 2.5, "answering socket received")
            await counters_zero(c1)
        finally:
            b.stop()
        await c1.close()
        await c2.close()


async def test_gateway_trickles_late_candidates():
    """A STUN server that never answers keeps the gateway gathering: it
    answers with the candidates it has and no end-of-candidates, then
    trickles `completed` in a candidate notification; the call works."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    conf = "[media]\nstun_server = 127.0.0.1:%d\n" % silent.getsockname()[1]
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway(conf) as gw:
            c = await connect(gw)
            pc, rec = await offering_pc("PCMU", record=True)
            r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
            assert "a=candidate:" in r["sdp"] and "a=end-of-candidates" not in r["sdp"], r["sdp"]
            await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
            await c.wait_state(r["call"], "answered")
            done = await c.wait_note(lambda m: m["method"] == "candidate" and
                                     m["params"].get("completed"), timeout=30)
            assert done["params"]["call"] == r["call"], done
            await asyncio.sleep(4.5)
            await c.call("hangup", {"call": r["call"]})
            await c.wait_state(r["call"], "ended")
            rec.stop()
            await pc.close()
            x, rate = rec.samples()
            assert_tone(x, rate, 440, 3, "aiortc received")
            await counters_zero(c)
            await c.close()
    finally:
        b.stop()
        silent.close()


async def outgoing_call_up(c, b):
    """An aiortc call to baresip, answered, with media flowing both ways
    long enough for the gateway to have let OpenSSL's state go."""
    pc, call = await offer_pcmu(c, b.uri)
    await c.wait_state(call, "answered")
    b.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(2)
    return pc, call


async def test_dtls_close_notify_both_ways():
    """The gateway frees OpenSSL's state once the browser's SRTP arrives and
    keeps only the DTLS record keys. They must still end the association
    both ways: the gateway's hang-up reaches aiortc as an authenticated
    close_notify (pyOpenSSL closes the DTLS transport only for one it
    verifies), and aiortc's pc.close() without any hang-up ends the call at
    once (reason 'browser media closed'), the SIP side getting its BYE."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, call = await outgoing_call_up(c, b)
            dtls = pc.getTransceivers()[0].sender.transport
            assert dtls.state == "connected", dtls.state
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            deadline = time.monotonic() + 3
            while dtls.state != "closed" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert dtls.state == "closed", "aiortc's DTLS: %s" % dtls.state
            b.wait_event("CALL_CLOSED")
            await pc.close()

            pc, call = await outgoing_call_up(c, b)
            t0 = time.monotonic()
            await pc.close()       # close_notify from aiortc, no hang-up
            st = await c.wait_state(call, "ended", timeout=5)
            assert time.monotonic() - t0 < 3, "ended after %.1f s" % (time.monotonic() - t0)
            assert "closed" in st.get("reason", ""), st
            b.wait_event("CALL_CLOSED")
            await counters_zero(c)
            await c.close()
    finally:
        b.stop()


LONG_CALL_SECONDS = 40


async def test_long_call_keeps_ice_consent():
    """Past libnice, with the gateway as the ICE controlling agent (it
    offers to the browser side): once ICE and DTLS are done the gateway
    reads the selected pair's socket itself, answers the peer's checks and
    asks for consent (RFC 7675). aioice asks every 4-6 s and closes the
    connection after six unanswered requests (30 s); the gateway ends the
    call 30 s after its own last answered request. 40 s in, audio still
    flows both ways and the call ends by baresip's BYE. (The Chromium suite
    runs the other direction, the gateway controlled.)"""
    wav = os.path.join(tones(LONG_CALL_SECONDS + 20), "tone440_48k.wav")
    with Gateway() as gw:
        c = await connect(gw, "alice")
        b = Baresip("b", source_wav=wav, codecs="pcmu").start()
        try:
            await answer_baresip(gw, c, b, LONG_CALL_SECONDS)
        finally:
            b.stop()
    x, rate = b.received()
    assert len(x) / rate >= LONG_CALL_SECONDS - 2, "baresip got %.1f s" % (len(x) / rate)
    assert_tone(x[-5 * rate:], rate, 1000, 4, "baresip received at the end")


if __name__ == "__main__":
    tap_main([test_aiortc_calls_baresip_pcmu, test_aiortc_calls_baresip_opus,
              test_garbage_on_media_ports,
              test_baresip_calls_aiortc_user, test_offline_user_gets_480, test_busy_486,
              test_cancel_before_answer, test_early_media_then_answer, test_outbound_proxy,
              test_dial_plan_403, test_sigterm_hangs_up_calls, test_bad_offers, test_forking_first_answer_wins,
              test_gateway_trickles_late_candidates, test_dtls_close_notify_both_ways,
              test_long_call_keeps_ice_consent, test_sip_peer_killed_call_ends])
