"""SDES-SRTP (RFC 4568) on the SIP leg, against baresip's srtp.so, with
python3-aiortc as the browser.

Each call asserts on what arrived: the tone each side heard (1 kHz from
the browser side, 440 Hz from baresip), and what went over the loopback
wire, captured with an AF_PACKET socket on lo (the test runs as root, as
CI does): the SDP baresip received from the gateway (RTP/SAVP or RTP/AVP,
with an a=crypto line of the expected suite) and the size of every RTP
packet between the gateway's media ports and baresip's: 20 ms of PCMU is
12 + 160 bytes in clear, and SRTP adds the suite's tag (10 bytes for
AES_CM_128_HMAC_SHA1_80, 4 for _32, 16 for the AES-GCM suites), so a plain
packet on an SDES leg fails the test. The GCM call's packets from the
gateway are also decrypted with pylibsrtp (python3-pylibsrtp, aiortc's
SRTP) using the key from our SDP, which must give PCMU.

One gateway per policy: mandatory (GCM-256 preferred), optional (the
32-bit tag suite preferred) and off. A plain baresip against the
mandatory gateway gets 488 and no call connects."""

import asyncio
import base64
import os
import re
import socket
import struct
import threading
import time

from aiortc import RTCSessionDescription
from pylibsrtp import Policy, Session

from aiortc_peer import Recorder, ToneTrack, new_pc, offering_pc
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, tap_main
from test_call_aiortc import connect, counters_zero
from test_health import get

MEDIA_SECONDS = 3.0
PCMU_20MS = 12 + 160
TAG = {"AES_CM_128_HMAC_SHA1_80": 10, "AES_CM_128_HMAC_SHA1_32": 4,
       "AEAD_AES_128_GCM": 16, "AEAD_AES_256_GCM": 16}

MANDATORY = ("[media]\nsip_srtp = mandatory\nsip_srtp_suites = AEAD_AES_256_GCM,"
             "AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32,AEAD_AES_128_GCM\n")
OPTIONAL = ("[media]\nsip_srtp = optional\nsip_srtp_suites = AES_CM_128_HMAC_SHA1_32,"
            "AES_CM_128_HMAC_SHA1_80\n")


# ------------------------------------------------------------ the wire

class Wire:
    """UDP datagrams (and TCP segments' payloads) on lo to or from the given
    ports, captured in a thread. Each packet is seen once (the outgoing copy
    is passed over)."""

    def __init__(self, ports):
        self.ports = set(ports)
        self.pkts = []          # (src port, dst port, payload)
        self.stop_ = False
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        # every datagram on lo comes here (other tests' media too, when
        # make check runs tests side by side): a default-sized buffer
        # dropped the INVITE under CI's load
        try:
            self.s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)   # SO_RCVBUFFORCE
        except OSError:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.s.bind(("lo", 0))
        self.s.settimeout(0.1)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_:
            try:
                data, addr = self.s.recvfrom(65600)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 14 + 20 + 8:
                continue
            ip = data[14:]
            ihl = (ip[0] & 15) * 4
            if ip[0] >> 4 != 4 or ip[9] not in (6, 17):
                continue
            sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
            if sport not in self.ports and dport not in self.ports:
                continue
            if ip[9] == 17:
                ulen = struct.unpack("!H", ip[ihl + 4:ihl + 6])[0]
                self.pkts.append((sport, dport, bytes(ip[ihl + 8:ihl + ulen])))
            else:
                # SIP over TCP: an INVITE near the UDP MTU goes by TCP (RFC
                # 3261 18.1.1), as one segment on lo
                total = struct.unpack("!H", ip[2:4])[0]
                body = bytes(ip[ihl + (ip[ihl + 12] >> 4) * 4:total])
                if body:
                    self.pkts.append((sport, dport, body))

    def close(self):
        self.stop_ = True
        self.t.join(2)
        self.s.close()

    def sip_to(self, port):
        """Texts of the SIP messages sent to `port`."""
        return [p.decode(errors="replace") for s, d, p in self.pkts
                if d == port and p[:3] in (b"SIP", b"INV", b"ACK", b"BYE")]

    def rtp(self, src_ports, dst_ports):
        """RTP (not RTCP) datagrams from one port set to the other."""
        return [p for s, d, p in self.pkts
                if s in src_ports and d in dst_ports and len(p) >= 12 and
                p[0] >> 6 == 2 and not 192 <= p[1] <= 223]


def sdp_of(msg):
    return msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""


def baresip_rtp_ports(b):
    with open(os.path.join(b.dir, "config")) as f:
        lo, hi = re.search(r"^rtp_ports (\d+)-(\d+)$", f.read(), re.M).groups()
    return set(range(int(lo), int(hi) + 1))


def gw_ports(gw):
    return set(range(gw.media_base, gw.media_base + 200))


def check_sdes_wire(wire, gw, b, suite, what):
    """Every PCMU packet both ways between the gateway and baresip carries
    the suite's tag; there are plenty of them."""
    bp, gp = baresip_rtp_ports(b), gw_ports(gw)
    for name, pkts in (("gateway to baresip", wire.rtp(gp, bp)),
                       ("baresip to gateway", wire.rtp(bp, gp))):
        # (forge() sends SSRC 0x5eed from baresip's address)
        audio = [p for p in pkts if p[1] & 0x7f == 0 and p[8:12] != b"\0\0\x5e\xed"]
        assert len(audio) >= 50, "%s: %s: only %d PCMU packets" % (what, name, len(audio))
        sizes = {len(p) for p in audio}
        assert sizes == {PCMU_20MS + TAG[suite]}, \
            "%s: %s: sizes %s, want %d (%s)" % (what, name, sorted(sizes),
                                               PCMU_20MS + TAG[suite], suite)


def crypto_lines(sdp):
    return re.findall(r"^a=crypto:(\d+) (\S+) inline:(\S+)", sdp, re.M)


# ------------------------------------------------------------ calls

async def browser_calls(gw, b, wire, during=None):
    """aiortc calls baresip through the gateway; returns the browser's
    recording once the call ended by our hangup. `during(gw, b, wire)` runs
    mid-call."""
    c = await connect(gw)
    pc, rec = await offering_pc("PCMU", record=True)
    r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
    call = r["call"]
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(call, "answered")
    assert st["code"] == 200, st
    b.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(MEDIA_SECONDS / 2)
    if during:
        during(gw, b, wire)
    await asyncio.sleep(MEDIA_SECONDS / 2)
    await c.call("hangup", {"call": call})
    await c.wait_state(call, "ended")
    b.wait_event("CALL_CLOSED")
    rec.stop()
    await pc.close()
    await counters_zero(c)
    await c.close()
    return rec


def sdes_baresip(mediaenc, source="tone440_48k.wav"):
    return Baresip("b", source_wav=os.path.join(tones(), source), codecs="pcmu",
                   extra_modules=("srtp.so",),
                   account_params="answermode=auto;mediaenc=%s" % mediaenc).start()


FORGED, REPLAYED = 20, 10


def forge(gw, b, wire):
    """Mid-call, at the gateway's SIP-leg port, as if from baresip's RTP
    address (a raw socket: the gateway's socket is connect()ed to its
    settled source, so only that address gets through, as an on-path
    attacker's would): plain PCMU (no tag: fails authentication) and copies
    of baresip's latest SRTP packets (replays; its first ones may have
    arrived before the 200 that brought the keys was read). All must be
    dropped as SRTP failures."""
    invite = [m for m in wire.sip_to(b.sip_port) if m.startswith("INVITE ")][0]
    port = int(re.search(r"^m=audio (\d+) ", sdp_of(invite), re.M).group(1))
    bp = baresip_rtp_ports(b)
    theirs = [(sp, p) for sp, dp, p in wire.pkts if sp in bp and dp == port and
              len(p) >= 12 and p[0] >> 6 == 2 and not 192 <= p[1] <= 223][-REPLAYED:]
    assert len(theirs) == REPLAYED, "baresip sent %d packets so far" % len(theirs)
    src = theirs[0][0]
    forged = [struct.pack("!BBHII", 0x80, 0, 1000 + i, 160 * i, 0x5eed) + b"\xff" * 160
              for i in range(FORGED)]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for p in forged + [p for _, p in theirs]:
        # IPv4 header (the kernel fills in length and checksum), then UDP
        # with checksum 0 (none, RFC 768)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, 0x4000, 64, 17, 0,
                         socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
        udp = struct.pack("!HHHH", src, port, 8 + len(p), 0)
        s.sendto(ip + udp + p, ("127.0.0.1", 0))
    s.close()


def srtp_drops(gw):
    """tandem_media_dropped_packets_total{reason="srtp"} (ended calls)."""
    status, _, body = get(gw, "/metrics")
    assert status == 200, status
    m = re.search(rb'^tandem_media_dropped_packets_total\{reason="srtp"\} (\S+)$', body, re.M)
    assert m, body[:500]
    return float(m.group(1))


async def call_out_sdes(conf, mediaenc, proto, suite, during=None):
    """The browser calls baresip: both hear each other; baresip got our
    offer with `proto` and crypto lines, and answered `suite`; the RTP
    between them is SRTP of that suite. Returns (the gateway's RTP to
    baresip as sent, the offer baresip received)."""
    b = sdes_baresip(mediaenc)
    wire = None
    try:
        with Gateway(conf) as gw:
            wire = Wire(gw_ports(gw) | baresip_rtp_ports(b) | {b.sip_port})
            rec = await browser_calls(gw, b, wire, during)
            wire.close()
            if during:
                # the ended call's figures reach /metrics from its worker
                deadline = time.monotonic() + 10
                while srtp_drops(gw) < FORGED + REPLAYED and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                drops = srtp_drops(gw)
                assert drops >= FORGED + REPLAYED, \
                    "%d SRTP drops counted, %d forged" % (drops, FORGED + REPLAYED)
            invites = [m for m in wire.sip_to(b.sip_port) if m.startswith("INVITE ")]
            assert invites, "baresip received no INVITE"
            offer = sdp_of(invites[0])
            assert re.search(r"^m=audio \d+ %s " % proto, offer, re.M), offer
            lines = crypto_lines(offer)
            assert lines, "no a=crypto in the offer baresip received:\n" + offer
            check_sdes_wire(wire, gw, b, suite, "call to baresip " + mediaenc)
            sent = wire.rtp(gw_ports(gw), baresip_rtp_ports(b))
    finally:
        if wire:
            wire.close()
        b.stop()
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 2, "aiortc received")
    x, rate = b.received()
    assert_tone(x, rate, 1000, 2, "baresip received")
    return sent, offer


async def test_browser_calls_baresip_mandatory_gcm256():
    """[media] sip_srtp = mandatory, AEAD_AES_256_GCM first: RTP/SAVP with a
    line per configured suite, in that order, each with its own key of the
    suite's length; baresip takes GCM-256. The gateway's packets decrypt
    with the GCM key from our offer (pylibsrtp) to PCMU. Forged plain RTP
    and replayed SRTP at our SIP-leg port mid-call are dropped, counted in
    /metrics as reason "srtp", and the tones still pass."""
    sent, offer = await call_out_sdes(MANDATORY, "srtp-mand", "RTP/SAVP", "AEAD_AES_256_GCM",
                                      forge)
    lines = crypto_lines(offer)
    assert [s for _, s, _ in lines] == ["AEAD_AES_256_GCM", "AES_CM_128_HMAC_SHA1_80",
                                        "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM"], lines
    keys = [base64.b64decode(k) for _, _, k in lines]
    assert [len(k) for k in keys] == [44, 30, 30, 28], [len(k) for k in keys]
    assert len(set(keys)) == 4, "a key was offered twice"
    # decrypt what the gateway sent with its GCM-256 key
    pol = Policy(key=keys[0], ssrc_type=Policy.SSRC_ANY_INBOUND,
                 srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_256_GCM)
    rx = Session(policy=pol)
    plain = 0
    for p in [p for p in sent if p[1] & 0x7f == 0][:200]:
        out = rx.unprotect(p)
        assert len(out) == PCMU_20MS and out[1] & 0x7f == 0, len(out)
        plain += 1
    assert plain >= 50, "only %d gateway packets decrypted with the offered key" % plain


async def test_browser_calls_baresip_optional():
    """[media] sip_srtp = optional: RTP/AVP with crypto lines (best-effort
    SDES); baresip with mediaenc=srtp answers a crypto line and the media
    is SRTP with the 32-bit tag suite we preferred."""
    await call_out_sdes(OPTIONAL, "srtp", "RTP/AVP", "AES_CM_128_HMAC_SHA1_32")


async def test_optional_falls_back_to_plain():
    """optional, and a baresip without srtp.so: the call works in plain RTP
    (no tag on the wire) and both hear each other."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway(OPTIONAL) as gw:
            wire = Wire(gw_ports(gw) | baresip_rtp_ports(b))
            try:
                rec = await browser_calls(gw, b, wire)
            finally:
                wire.close()
            sizes = {len(p) for p in wire.rtp(gw_ports(gw), baresip_rtp_ports(b))
                     if p[1] & 0x7f == 0}
            assert sizes == {PCMU_20MS}, sizes
    finally:
        b.stop()
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 2, "aiortc received")


async def test_baresip_srtp_mand_calls_browser_user():
    """baresip (mediaenc=srtp-mand) calls alice: our 200 answers RTP/SAVP
    with one crypto line under the tag and suite baresip offered first, and
    a key of our own; media is SRTP both ways and both hear each other."""
    b = sdes_baresip("srtp-mand")
    try:
        with Gateway(MANDATORY) as gw:
            wire = Wire(gw_ports(gw) | baresip_rtp_ports(b) | {b.sip_port, gw.sip_port})
            try:
                rec = await answer_baresip(gw, b)
            finally:
                wire.close()
            invite = [m for m in wire.sip_to(gw.sip_port) if m.startswith("INVITE ")][0]
            theirs = crypto_lines(sdp_of(invite))
            ok = [m for m in wire.sip_to(b.sip_port)
                  if m.startswith("SIP/2.0 200") and "INVITE" in m.split("CSeq:", 1)[-1][:30]]
            assert ok, "baresip received no 200 to its INVITE"
            answer = sdp_of(ok[0])
            assert re.search(r"^m=audio \d+ RTP/SAVP ", answer, re.M), answer
            ours = crypto_lines(answer)
            assert len(ours) == 1 and ours[0][:2] == theirs[0][:2], (ours, theirs)
            assert ours[0][2] != theirs[0][2], "the answer echoed the offerer's key"
            check_sdes_wire(wire, gw, b, ours[0][1], "baresip calls alice")
    finally:
        b.stop()
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 2, "aiortc received")
    x, rate = b.received()
    assert_tone(x, rate, 1000, 2, "baresip received")


async def answer_baresip(gw, b):
    c = await connect(gw, "alice")
    b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
    inc = (await c.wait_note(lambda m: m["method"] == "incoming"))["params"]
    pc = new_pc()
    rec = Recorder()
    pc.on("track", lambda t: rec.start(t))
    await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
    pc.addTrack(ToneTrack(1000))
    await pc.setLocalDescription(await pc.createAnswer())
    await c.call("answer", {"call": inc["call"], "sdp": pc.localDescription.sdp})
    await c.wait_state(inc["call"], "answered")
    b.wait_event("CALL_ESTABLISHED")
    await asyncio.sleep(MEDIA_SECONDS)
    b.hangup()
    await c.wait_state(inc["call"], "ended")
    rec.stop()
    await pc.close()
    await counters_zero(c)
    await c.close()
    return rec


async def test_plain_baresip_refused_when_mandatory():
    """mandatory, a baresip without srtp.so: its plain RTP/AVP INVITE gets
    488, no browser is alerted; and our RTP/SAVP offer to it is refused by
    baresip, so that call ends without connecting."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu").start()
    try:
        with Gateway(MANDATORY) as gw:
            c = await connect(gw, "alice")
            b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
            e = b.wait_event("CALL_CLOSED", 15)
            assert "488" in e.get("param", ""), e
            alerted = [m for m in c.backlog if m["method"] == "incoming"]
            assert not alerted, "a browser was alerted: %s" % alerted
            pc, _ = await offering_pc("PCMU")
            r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
            st = await c.wait_state(r["call"], "ended", timeout=15)
            assert st.get("code") == 488, st
            assert not [ev for ev in b.events if ev.get("type") == "CALL_ESTABLISHED"]
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        b.stop()


async def test_tone_destination_under_mandatory():
    """The built-in `tone` destination runs in-process on plain RTP: a
    mandatory SDES policy leaves it alone, and the browser hears 1 kHz."""
    with Gateway(MANDATORY) as gw:
        c = await connect(gw)
        pc, rec = await offering_pc("PCMU", record=True)
        r = await c.call("call", {"to": "tone", "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        st = await c.wait_state(r["call"], "answered")
        assert st["code"] == 200, st
        await asyncio.sleep(MEDIA_SECONDS)
        await c.call("hangup", {"call": r["call"]})
        await c.wait_state(r["call"], "ended")
        rec.stop()
        await pc.close()
        await counters_zero(c)
        await c.close()
    x, rate = rec.samples()
    assert_tone(x, rate, 1000, 2, "aiortc received from `tone`")


async def test_savp_offer_refused_when_off():
    """sip_srtp off (the default): baresip's RTP/SAVP offer gets 488."""
    b = sdes_baresip("srtp-mand")
    try:
        with Gateway() as gw:
            c = await connect(gw, "alice")
            b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
            e = b.wait_event("CALL_CLOSED", 15)
            assert "488" in e.get("param", ""), e
            await c.close()
    finally:
        b.stop()


if __name__ == "__main__":
    tap_main([test_browser_calls_baresip_mandatory_gcm256, test_browser_calls_baresip_optional,
              test_optional_falls_back_to_plain, test_baresip_srtp_mand_calls_browser_user,
              test_plain_baresip_refused_when_mandatory, test_tone_destination_under_mandatory,
              test_savp_offer_refused_when_off])
