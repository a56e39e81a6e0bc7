"""DTMF through Tandem every way (issue 10 items 5 and 6), asserting on what
the peers received: the digits baresip reports (CALL_DTMF_START), the INFO
bodies SIPp received (its message trace), the tones an in-band-only peer
recorded (Goertzel in this file), the telephone-event packets aiortc
received, and the browser's `dtmf` notifications. Every string must arrive
exactly once and in order.

aiortc has no telephone-event: this file adds it (harness.md section 5) by
listing the codec, taking received event packets out before the decoder,
and turning outgoing audio packets into event packets while a digit plays,
as a browser's RTCDTMFSender does. Private API, pinned to aiortc 1.4."""

import asyncio
import math
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
import warnings

with warnings.catch_warnings():
    # G.711 for the in-band peer; deprecated in 3.11, still in Debian 12's
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from aiortc import RTCRtpSender, RTCSessionDescription
from aiortc import codecs as aiortc_codecs
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from aiortc_peer import Recorder, ToneTrack, new_pc
from peers import Baresip, tones
from tandem_harness import Gateway, free_port, tap_main, wait_udp_bound
from test_call_aiortc import connect, counters_zero

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")
EVENTS = "0123456789*#ABCD"
TE_PTS = {8000: 126, 48000: 110}

# ------------------------------------------------------------ aiortc + RFC 4733


def te_codec(clock):
    """aiortc lists telephone-event at this clock only (it would match a
    second one by name and offer the first)."""
    audio = aiortc_codecs.CODECS["audio"]
    audio[:] = [c for c in audio if c.mimeType.lower() != "audio/telephone-event"]
    audio.append(RTCRtpCodecParameters(mimeType="audio/telephone-event", clockRate=clock,
                                       channels=1, payloadType=TE_PTS[clock]))


_received_events = {}      # receiver -> list of (event, end, duration, ts)
_orig_handle = RTCRtpReceiver._handle_rtp_packet


async def _handle_rtp_packet(self, packet, arrival_time_ms):
    if packet.payload_type in _received_events.get(self, {}).get("pts", ()):
        if len(packet.payload) >= 4:
            ev, flags, dur = packet.payload[0], packet.payload[1], \
                struct.unpack("!H", packet.payload[2:4])[0]
            _received_events[self]["events"].append((ev, bool(flags & 0x80), dur,
                                                     packet.timestamp))
        return
    await _orig_handle(self, packet, arrival_time_ms)

RTCRtpReceiver._handle_rtp_packet = _handle_rtp_packet


def prefer_te(pc, codec, te_clock):
    """The audio transceiver offers `codec` and telephone-event at te_clock."""
    caps = RTCRtpSender.getCapabilities("audio").codecs
    want = [c for c in caps if c.mimeType.lower() == "audio/" + codec.lower()]
    want += [c for c in caps if c.mimeType.lower() == "audio/telephone-event" and
             c.clockRate == te_clock]
    for t in pc.getTransceivers():
        if t.kind == "audio":
            t.setCodecPreferences(want)


def watch_events(pc):
    """Collects the telephone-event packets the pc receives."""
    for r in pc.getReceivers():
        _received_events[r] = {"pts": set(TE_PTS.values()) | {101}, "events": []}
        return _received_events[r]["events"]


def event_digits(events):
    """Digits of received RFC 4733 packets: one per event (its timestamp)."""
    out, seen = [], set()
    for ev, end, dur, ts in events:
        if ts not in seen and ev < 16:
            seen.add(ts)
            out.append(EVENTS[ev])
    return "".join(out)


class EventSender:
    """Turns the pc's outgoing audio packets into RFC 4733 packets while a
    digit plays (one per 20 ms packet, the last three with the E bit), as
    RTCDTMFSender does: seq stays continuous, the event keeps the
    timestamp of its first packet."""

    def __init__(self, pc, pt, clock):
        sender = [s for s in pc.getSenders() if s.kind == "audio"][0]
        self.transport = sender.transport
        self.orig = self.transport._send_rtp
        self.transport._send_rtp = self._send
        self.pt, self.step = pt, clock // 50
        self.clock = clock
        self.queue, self.cur, self.gap = [], None, 0

    def send(self, digits, ms=120, gap_packets=4):
        for d in digits:
            self.queue.append((EVENTS.index(d), ms * self.clock // 1000, gap_packets))

    def busy(self):
        return bool(self.queue or self.cur or self.gap)

    async def _send(self, data):
        if self.gap:
            self.gap -= 1
        elif self.cur is None and self.queue:
            ev, total, gap = self.queue.pop(0)
            self.cur = {"ev": ev, "total": total, "dur": 0, "ends": 0, "gap": gap,
                        "ts": data[4:8], "first": True}
        if self.cur:
            data = self._event(data)
        await self.orig(data)

    def _event(self, data):
        c = self.cur
        hl = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10:
            hl += 4 + 4 * struct.unpack("!H", data[hl + 2:hl + 4])[0]
        c["dur"] = min(c["dur"] + self.step, c["total"])
        end = c["dur"] >= c["total"]
        if end:
            c["ends"] += 1
        block = struct.pack("!BBH", c["ev"], (0x80 if end else 0) | 10, c["dur"])
        marker = 0x80 if c["first"] else 0
        c["first"] = False
        if c["ends"] == 3:
            self.gap = c["gap"]
            self.cur = None
        return bytes([data[0] & ~0x20 & 0xFF, marker | self.pt]) + data[2:4] + c["ts"] + \
            data[8:hl] + block


async def te_browser_call(c, to, codec="PCMU", te_clock=8000):
    """An aiortc call with telephone-event; returns (pc, call id, rx events,
    sender of events)."""
    te_codec(te_clock)
    pc = new_pc()
    pc.addTrack(ToneTrack(1000))
    prefer_te(pc, codec, te_clock)
    await pc.setLocalDescription(await pc.createOffer())
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
    assert "telephone-event/%d" % te_clock in r["sdp"], r["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    rx = watch_events(pc)
    tx = EventSender(pc, TE_PTS[te_clock], te_clock)
    return pc, r["call"], rx, tx


async def plain_browser_call(c, to, codec="PCMU"):
    """An aiortc call without telephone-event, recording what it hears."""
    pc, rec = new_pc(), Recorder()
    pc.on("track", lambda t: rec.start(t))
    pc.addTrack(ToneTrack(1000))
    caps = RTCRtpSender.getCapabilities("audio").codecs
    for t in pc.getTransceivers():
        t.setCodecPreferences([x for x in caps if x.mimeType.lower() == "audio/" +
                               codec.lower()])
    await pc.setLocalDescription(await pc.createOffer())
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
    assert "telephone-event" not in r["sdp"], r["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    return pc, r["call"], rec


async def dtmf_notes(c, call, n, timeout=15):
    """The next n `dtmf` notifications of the call, then 1.5 s more to
    catch any duplicate."""
    got = []
    for _ in range(n):
        m = await c.wait_note(lambda m: m["method"] == "dtmf" and
                              m["params"]["call"] == call, timeout)
        got.append(m["params"])
    try:
        extra = await c.wait_note(lambda m: m["method"] == "dtmf", 1.5)
        raise AssertionError("a digit arrived twice or unasked: %s after %s" % (extra, got))
    except AssertionError as e:
        if "no matching notification" not in str(e):
            raise
    return got


async def baresip_digits(b, n, timeout=15):
    """The digits baresip reported receiving (CALL_DTMF_START), n of them,
    then 1.5 s more for duplicates. In a thread: the event loop must keep
    aiortc's media going meanwhile."""
    return await asyncio.get_event_loop().run_in_executor(None, _baresip_digits, b, n,
                                                          timeout)


async def baresip_keys(b, keys):
    """baresip sends each key as RFC 4733 (its menu's sndcode)."""
    for k in keys:
        await asyncio.get_event_loop().run_in_executor(None, b.command, "sndcode", k)
        await asyncio.sleep(0.5)


def _baresip_digits(b, n, timeout):
    got = []
    for _ in range(n):
        got.append(b.wait_event("CALL_DTMF_START", timeout).get("param", ""))
    try:
        extra = b.wait_event("CALL_DTMF_START", 1.5)
        raise AssertionError("baresip got an extra digit %s after %s" % (extra, got))
    except AssertionError as e:
        if "no ('CALL_DTMF_START',) event" not in str(e):
            raise
    return "".join(got)


# ------------------------------------------------------------ tones

ROWS, COLS = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
KEYS = ("123A", "456B", "789C", "*0#D")


def goertzel(x, rate, f):
    k = 2 * math.cos(2 * math.pi * f / rate)
    s1 = s2 = 0.0
    for v in x:
        s1, s2 = v + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def tone_digit(x, rate=8000):
    """The DTMF key in a block of samples, or None: one row and one column
    tone each well above the others, together most of the energy."""
    energy = sum(v * v for v in x) * len(x) / 2
    if energy <= 0:
        return None
    r = [goertzel(x, rate, f) for f in ROWS]
    c = [goertzel(x, rate, f) for f in COLS]
    ri, ci = max(range(4), key=lambda i: r[i]), max(range(4), key=lambda i: c[i])
    if r[ri] + c[ci] < 0.5 * energy:
        return None
    if any(r[i] > r[ri] / 8 for i in range(4) if i != ri) or \
            any(c[i] > c[ci] / 8 for i in range(4) if i != ci):
        return None
    return KEYS[ri][ci]


def digits_in(pcm, rate=8000, block_ms=20):
    """The key string in a recording: a key counts once per stretch of at
    least two blocks with it, stretches apart by one block without."""
    n = rate * block_ms // 1000
    seq = [tone_digit(pcm[i:i + n]) for i in range(0, len(pcm) - n + 1, n)]
    out, cur, run = [], None, 0
    for d in seq + [None]:
        if d == cur:
            run += 1
            continue
        if cur and run >= 2:
            out.append(cur)
        cur, run = d, 1
    return "".join(out)


def dtmf_pcm(key, ms, rate=8000, amp=0.25):
    ri = [i for i, row in enumerate(KEYS) if key in row][0]
    ci = KEYS[ri].index(key)
    n = rate * ms // 1000
    return [amp * (math.sin(2 * math.pi * ROWS[ri] * t / rate) +
                   math.sin(2 * math.pi * COLS[ci] * t / rate)) for t in range(n)]


class InbandPeer:
    """The media side of a G.711-only SIP phone without telephone-event: a
    UDP socket named in SIPp's SDP that records the PCMU it receives and
    sends 20 ms PCMU packets back (silence, or the tones of queued keys) to
    wherever the gateway's media comes from."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.01)
        self.port = self.sock.getsockname()[1]
        self.rx, self.remote, self.pending = {}, None, []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def play(self, keys, ms=150, gap_ms=150):
        pcm = []
        for k in keys:
            pcm += dtmf_pcm(k, ms) + [0.0] * (8000 * gap_ms // 1000)
        self.pending += pcm

    def _run(self):
        seq, ts, ssrc = 1000, 5000, 0x1234ABCD
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
                if len(data) > 12 and data[1] & 0x7F == 0:
                    self.remote = addr
                    self.rx[self._extend(struct.unpack("!H", data[2:4])[0])] = data[12:]
            except socket.timeout:
                pass
            if time.monotonic() >= nxt and self.remote:
                nxt += 0.02
                block = self.pending[:160]
                del self.pending[:160]
                block += [0.0] * (160 - len(block))
                lin = struct.pack("<160h", *[int(v * 32767) for v in block])
                pkt = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
                self.sock.sendto(pkt + audioop.lin2ulaw(lin, 2), self.remote)
                seq, ts = seq + 1, ts + 160
            elif not self.remote:
                nxt = time.monotonic()

    def _extend(self, seq):
        """The 16-bit sequence number extended across a wrap (the gateway
        starts its numbering at random, so a call can cross 65535)."""
        last = getattr(self, "_last", None)
        self._last = seq if last is None else last + ((seq - last + 32768) % 65536) - 32768
        return self._last

    def recording(self):
        """What arrived, in (extended) sequence order."""
        data = b"".join(self.rx[k] for k in sorted(self.rx))
        lin = audioop.ulaw2lin(data, 2)
        return [v / 32768.0 for v in struct.unpack("<%dh" % (len(lin) // 2), lin)]

    def close(self):
        self.stop_ev.set()
        self.thread.join(2)
        self.sock.close()


def sipp_uas(scenario, port, rtp_port=None):
    """SIPp answering one call with `scenario`, tracing every message; it
    echoes RTP on its media port unless the test's own peer has it."""
    cwd = tempfile.mkdtemp(prefix="tandem-sipp-")
    cmd = ["sipp", "-sf", os.path.join(SIPP_DIR, scenario), "-p", str(port), "-m", "1",
           "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
           "-mp", str(free_port(also_udp=True)), "-timeout", "40", "-timeout_error",
           "-trace_err", "-trace_msg", "-message_file", os.path.join(cwd, "messages.log")]
    cmd += ["-set", "rtpport", str(rtp_port)] if rtp_port else ["-rtp_echo"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)
    p.messages = os.path.join(cwd, "messages.log")
    wait_udp_bound(p, port)   # an INVITE before its bind ends the call at once
    return p


def sipp_wait(p, timeout=30):
    out = p.communicate(timeout=timeout)[0].decode(errors="replace")
    assert p.returncode == 0, "SIPp failed (%d): %s" % (p.returncode, out[-1500:])


def info_bodies(path):
    """(Content-Type, body) of each INFO SIPp received, in order."""
    with open(path, errors="replace") as f:
        chunks = re.split(r"^-{20,} [^\n]*\n", f.read(), flags=re.M)
    out = []
    for ch in chunks:
        head, _, msg = ch.partition("\n\n")
        if "message received" not in head or not msg.startswith("INFO "):
            continue
        msg = msg.replace("\r\n", "\n")
        hdrs, _, body = msg.partition("\n\n")
        ct = re.search(r"^Content-Type:\s*(\S+)", hdrs, re.M | re.I)
        out.append((ct.group(1).lower() if ct else "", body.strip()))
    return out


# ------------------------------------------------------------ tests

async def test_request_and_baresip_rfc4733():
    """The `dtmf` request reaches baresip as RFC 4733 (its own report of the
    digits), and baresip's keys reach the browser's `dtmf` notification,
    source rfc4733, although the browser's answer has no telephone-event."""
    b = Baresip("b", codecs="pcmu").start()
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, call, _ = await plain_browser_call(c, b.uri)
            assert (await c.wait_state(call, "answered"))["code"] == 200
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(1)
            await c.call("dtmf", {"call": call, "digits": "19#*5D", "duration_ms": 120,
                                  "gap_ms": 80})
            assert (await baresip_digits(b, 6)) == "19#*5D"
            await baresip_keys(b, "2580")
            got = await dtmf_notes(c, call, 4)
            assert "".join(g["digit"] for g in got) == "2580", got
            assert all(g["source"] == "rfc4733" and 40 <= g["duration_ms"] <= 2000
                       for g in got), got
            # bad requests say which field
            m = await c.request("dtmf", {"call": call, "digits": "12x"})
            assert m["error"]["code"] == 400 and "digits" in m["error"]["message"], m
            m = await c.request("dtmf", {"call": call, "digits": "1", "duration_ms": 10})
            assert m["error"]["code"] == -32602, m
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        b.stop()


async def browser_rfc4733_to_baresip(codec, te_clock):
    wav = "tone440_48k_stereo.wav" if codec == "opus" else "tone440_48k.wav"
    b = Baresip("b", source_wav=os.path.join(tones(), wav), codecs=codec.lower()).start()
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, call, rx, tx = await te_browser_call(c, b.uri, codec, te_clock)
            assert (await c.wait_state(call, "answered"))["code"] == 200
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(1)
            tx.send("7#30")
            assert (await baresip_digits(b, 4)) == "7#30"
            # and back: baresip's keys reach the browser as event packets
            await baresip_keys(b, "*4")
            got = await dtmf_notes(c, call, 2)
            assert "".join(g["digit"] for g in got) == "*4", got
            assert event_digits(rx) == "*4", rx
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            await pc.close()
            await c.close()
    finally:
        b.stop()


async def test_browser_rfc4733_to_baresip_pcmu():
    """aiortc's own RFC 4733 (telephone-event/8000) reaches baresip; baresip's
    reaches aiortc as event packets."""
    await browser_rfc4733_to_baresip("PCMU", 8000)


async def test_browser_rfc4733_48k_to_baresip_opus():
    """telephone-event/48000 from the browser, /8000 at baresip: the clocks
    are mapped both ways."""
    await browser_rfc4733_to_baresip("opus", 48000)


async def test_transcoded_opus_browser_baresip_pcmu():
    """A transcoded call (aiortc offering Opus alone, telephone-event/48000;
    baresip restricted to PCMU, telephone-event/8000): the `dtmf` request
    and the browser's own events reach baresip as RFC 4733, each digit
    once and in order; baresip's keys reach the `dtmf` notification once
    each, in order, and the browser as event packets."""
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                codecs="pcmu").start()
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, call, rx, tx = await te_browser_call(c, b.uri, "opus", 48000)
            sdp = pc.localDescription.sdp
            assert "PCMU" not in sdp and "PCMA" not in sdp, "offer must hold Opus alone"
            assert (await c.wait_state(call, "answered"))["code"] == 200
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(1)
            stats = await c.call("stats", {"call": call})
            assert stats["transcoded"] is True, stats
            await c.call("dtmf", {"call": call, "digits": "19#*5D", "duration_ms": 120,
                                  "gap_ms": 80})
            assert (await baresip_digits(b, 6)) == "19#*5D"
            tx.send("7#30")
            assert (await baresip_digits(b, 4)) == "7#30"
            await baresip_keys(b, "2580")
            got = await dtmf_notes(c, call, 4)
            assert "".join(g["digit"] for g in got) == "2580", got
            assert all(g["source"] == "rfc4733" for g in got), got
            assert event_digits(rx) == "2580", rx
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            await pc.close()
            await c.close()
    finally:
        b.stop()


async def test_sipp_info_both_ways():
    """dtmf_mode = info: SIPp's INFOs (dtmf-relay and dtmf bodies) reach the
    browser as notifications, source info, and as RFC 4733 packets; the
    browser's digits (its RFC 4733 and the `dtmf` request) reach SIPp as
    INFO bodies, in order."""
    port = free_port(also_udp=True)
    uas = sipp_uas("uas_dtmf_info.xml", port)
    try:
        with Gateway("[calls]\ndtmf_mode = info\n") as gw:
            c = await connect(gw)
            pc, call, rx, tx = await te_browser_call(c, "sip:sipp@127.0.0.1:%d" % port)
            assert (await c.wait_state(call, "answered"))["code"] == 200
            got = await dtmf_notes(c, call, 3)
            assert [(g["digit"], g["source"]) for g in got] == \
                [("3", "info"), ("7", "info"), ("#", "info")], got
            assert got[0]["duration_ms"] == 160, got
            assert event_digits(rx) == "37#", rx
            tx.send("9")
            while tx.busy():
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            await c.call("dtmf", {"call": call, "digits": "4*B", "duration_ms": 200,
                                  "gap_ms": 100})
            await asyncio.sleep(2)
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            await pc.close()
            await c.close()
        sipp_wait(uas)
    finally:
        if uas.poll() is None:
            uas.kill()
    bodies = info_bodies(uas.messages)
    assert [ct for ct, _ in bodies] == ["application/dtmf-relay"] * 4, bodies
    signals = [re.search(r"Signal=(\S+)", b).group(1) for _, b in bodies]
    assert signals == ["9", "4", "*", "B"], bodies
    assert "Duration=200" in bodies[1][1], bodies


async def inband_peer_both_ways(codec="PCMU", te_clock=8000, min_ms=100):
    peer = InbandPeer()
    port = free_port(also_udp=True)
    uas = sipp_uas("uas_inband.xml", port, peer.port)
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, call, rx, tx = await te_browser_call(c, "sip:sipp@127.0.0.1:%d" % port,
                                                     codec, te_clock)
            assert (await c.wait_state(call, "answered"))["code"] == 200
            await asyncio.sleep(1)
            stats = await c.call("stats", {"call": call})
            assert stats["transcoded"] is (codec != "PCMU"), stats
            await c.call("dtmf", {"call": call, "digits": "159#", "duration_ms": 150,
                                  "gap_ms": 150})
            await asyncio.sleep(1.5)
            tx.send("0A")
            await asyncio.sleep(1.5)
            peer.play("62*C")
            got = await dtmf_notes(c, call, 4)
            assert [(g["digit"], g["source"]) for g in got] == \
                [(k, "inband") for k in "62*C"], got
            assert all(min_ms <= g["duration_ms"] <= 250 for g in got), got
            assert event_digits(rx) == "62*C", rx
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            await pc.close()
            await c.close()
        sipp_wait(uas)
    finally:
        peer.close()
        if uas.poll() is None:
            uas.kill()
    heard = digits_in(peer.recording())
    assert heard == "159#0A", "the in-band peer heard %r" % heard


async def test_inband_peer_both_ways():
    """A G.711 phone without telephone-event: the `dtmf` request and the
    browser's RFC 4733 reach it as tones (Goertzel on what it recorded);
    its tones reach the browser as notifications, source inband, once
    each."""
    await inband_peer_both_ways()


async def test_transcoded_inband_peer_both_ways():
    """The same phone (PCMU, no telephone-event) and a browser offering Opus
    alone: the call is transcoded, and the tones are made in and detected
    on the transcoder's PCM, each digit once, in order. The 150 ms tones
    may be measured shorter: the transcoder's jitter buffer drops a frame
    now and then to shrink its delay (seen: 89 ms once)."""
    await inband_peer_both_ways("opus", 48000, 60)


if __name__ == "__main__":
    tap_main([test_request_and_baresip_rfc4733, test_browser_rfc4733_to_baresip_pcmu,
              test_browser_rfc4733_48k_to_baresip_opus, test_sipp_info_both_ways,
              test_inband_peer_both_ways, test_transcoded_opus_browser_baresip_pcmu,
              test_transcoded_inband_peer_both_ways])
