#!/usr/bin/python3
"""The browser's `renegotiate` (issue 11 item 4): a new offer from the same
RTCPeerConnection becomes a re-INVITE, asserting on what the peers got:
tones in baresip's and aiortc's recordings and at a Python RTP socket, the
re-INVITE bodies baresip and SIPp received, the answers' transport lines,
statuses SIPp required.

- aiortc calls baresip: the same offer again is answered at once with the
  same ICE ufrag, fingerprint and DTLS role and no re-INVITE; an ICE
  restart and a new fingerprint get 488; a=sendonly holds (baresip gets a
  re-INVITE with a=sendonly, the answer says recvonly, call.state held,
  baresip hears silence), a=sendrecv resumes, tones before and after both
  ways.
- baresip calls aiortc (the browser took the call, so the gateway is the
  DTLS server): a=inactive holds, the answer keeps setup:passive, baresip
  gets a=inactive then a=sendrecv, tones after both ways.
- SIPp (sipp/uas_reneg_glare.xml): the hold's re-INVITE meets the peer's
  own; the peer sees 491, ours is refused 491; the peer's goes again first
  (moving its media) and is answered; ours is then built anew on that
  session (a newer o= version than our answer, still a=sendonly) and goes
  2.1-4 s after the 491; the browser gets its answer then; the resume
  follows, with the media at the peer's new port; an a=inactive
  offer the peer refuses 488 is reported with its status and the call
  keeps sending both ways.
- Headless Chromium calls baresip on PCMU, then renegotiates from the same
  pc: Opus only (the SIP peer gets a re-INVITE offering Opus first; the
  browser sends and receives Opus afterwards and both tones carry on), then
  a hold and resume by the transceiver's direction. getStats shows the
  same selected pair (no new pair chosen), the same certificates and DTLS
  connected throughout: no ICE restart, no new DTLS.

Runs in a private network namespace (harness.md section 3) for Chromium."""

import netns
if __name__ == "__main__":
    netns.enter()

import asyncio   # noqa: E402
import os   # noqa: E402
import re   # noqa: E402
import time   # noqa: E402

from aiortc import RTCSessionDescription   # noqa: E402

from aiortc_peer import Recorder, ToneTrack, new_pc   # noqa: E402
from peers import Baresip, assert_tone, tones   # noqa: E402
from tandem_harness import Gateway, tap_main   # noqa: E402
from test_call_aiortc import connect, counters_zero   # noqa: E402
from test_call_chromium import Browser, assert_heard   # noqa: E402
from test_hold import (RtpPeer, browser_call, check_baresip_heard, rec_len,   # noqa: E402
                       tone_in, trace_messages, traced_baresip)
from test_sip_calls import sipp_ok, sipp_uas   # noqa: E402


def attr(sdp, name):
    m = re.search(r"(?m)^a=%s:(\S+(?: \S+)?)\r?$" % name, sdp)
    return m.group(1) if m else None


def direction(sdp):
    return re.findall(r"(?m)^a=(sendrecv|sendonly|recvonly|inactive)\r?$", sdp)


def audio_transceiver(pc):
    return next(t for t in pc.getTransceivers() if t.kind == "audio")


async def renegotiate(c, pc, call, dir_=None):
    """The browser's renegotiation: a new offer from pc (its transceiver
    set to dir_ first), sent and its answer applied. Returns the answer."""
    if dir_:
        audio_transceiver(pc).direction = dir_
    await pc.setLocalDescription(await pc.createOffer())
    r = await c.call("renegotiate", {"call": call, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    return r["sdp"]


def reinvites(log):
    """Directions of the INVITEs carrying our o= line that baresip's -s
    trace shows it received, in order (the first is the call's own)."""
    return re.findall(r"(?s)INVITE sip:[^\n]*?SIP/2\.0.*?o=tandem \d+ (\d+) IN.*?"
                      r"a=(sendrecv|sendonly|recvonly|inactive)", log)


async def test_browser_call_renegotiated():
    b = traced_baresip()
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, rec, call = await browser_call(c, b.uri)
            first = pc.remoteDescription.sdp
            b.wait_event("CALL_ESTABLISHED")
            t0 = time.monotonic()
            await asyncio.sleep(2.0)
            # nothing material: the answer keeps the transport, no re-INVITE
            again = await renegotiate(c, pc, call)
            for a in ("ice-ufrag", "ice-pwd", "fingerprint", "setup"):
                assert attr(again, a) == attr(first, a), (a, first, again)
            assert attr(again, "setup") == "active", again
            assert direction(again) == ["sendrecv"], again
            # an ICE restart and a new DTLS fingerprint are refused
            offer = pc.localDescription.sdp
            for bad in (re.sub(r"(?m)^a=ice-ufrag:\S+", "a=ice-ufrag:Zrestart1", offer),
                        re.sub(r"(?m)^(a=fingerprint:\S+ )\S+", r"\g<1>" + ":".join(
                            ["AB"] * 32), offer)):
                r = await c.request("renegotiate", {"call": call, "sdp": bad})
                assert r.get("error", {}).get("code") == 488, r
            n_before = rec_len(rec)
            held = await renegotiate(c, pc, call, "sendonly")
            assert direction(held) == ["recvonly"], held
            assert attr(held, "ice-ufrag") == attr(first, "ice-ufrag"), held
            st = await c.wait_state(call, ("held", "answered"))
            assert st["state"] == "held", st
            th = time.monotonic()
            # a hold while held is refused, as `hold` would be
            r = await c.request("hold", {"call": call})
            assert r.get("error", {}).get("code") == 409, r
            await asyncio.sleep(2.0)
            back = await renegotiate(c, pc, call, "sendrecv")
            assert direction(back) == ["sendrecv"], back
            st = await c.wait_state(call, ("resumed", "answered"))
            assert st["state"] == "resumed", st
            tr = time.monotonic()
            n_resumed = rec_len(rec)
            await asyncio.sleep(2.5)
            te = time.monotonic()
            assert pc.iceConnectionState == "completed", pc.iceConnectionState
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            b.wait_event("CALL_CLOSED")
            rec.stop()
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        b.stop()
    check_baresip_heard(b, t0, th, tr, te, "the renegotiated hold")
    y, yr = rec.samples()
    tone_in(y[yr // 2:n_before], yr, 440, "browser before the hold")
    tone_in(y[n_resumed + yr // 2:], yr, 440, "browser after the resume")
    # baresip got the call's INVITE, then only the hold and the resume:
    # the same offer again sent nothing
    got = reinvites(b.read_log())
    assert [g[1] for g in got] == ["sendrecv", "sendonly", "sendrecv"], got
    assert [int(g[0]) for g in got] == [int(got[0][0]) + i for i in range(3)], got


async def test_taken_call_renegotiated():
    b = Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"), codecs="pcmu",
                args=["-s"]).start()
    try:
        with Gateway() as gw:
            c = await connect(gw, "alice")
            b.dial("sip:alice@127.0.0.1:%d" % gw.sip_port)
            inc = (await c.wait_note(lambda m: m["method"] == "incoming"))["params"]
            call = inc["call"]
            pc = new_pc()
            rec = Recorder()
            pc.on("track", lambda t: rec.start(t))
            await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
            pc.addTrack(ToneTrack(1000))
            await pc.setLocalDescription(await pc.createAnswer())
            assert attr(pc.localDescription.sdp, "setup") == "active"
            await c.call("answer", {"call": call, "sdp": pc.localDescription.sdp})
            await c.wait_state(call, "answered")
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(1.5)
            held = await renegotiate(c, pc, call, "inactive")
            # we are the DTLS server of this pc: the answer says so
            assert attr(held, "setup") == "passive", held
            assert attr(held, "ice-ufrag") == attr(inc["sdp"], "ice-ufrag"), held
            assert attr(held, "fingerprint") == attr(inc["sdp"], "fingerprint"), held
            assert direction(held) == ["inactive"], held
            assert (await c.wait_state(call, ("held", "answered")))["state"] == "held"
            await asyncio.sleep(1.0)
            await renegotiate(c, pc, call, "sendrecv")
            assert (await c.wait_state(call, ("resumed", "answered")))["state"] == "resumed"
            n_resumed = rec_len(rec)
            tr = time.monotonic()
            await asyncio.sleep(3.0)
            te = time.monotonic()
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            b.wait_event("CALL_CLOSED")
            rec.stop()
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        b.stop()
    y, yr = rec.samples()
    tone_in(y[n_resumed + yr // 2:], yr, 440, "browser after the resume")
    x, rate = b.received()
    tail = x[-int((te - tr - 0.8) * rate):]
    tone_in(tail, rate, 1000, "baresip after the resume")
    # every SDP of ours baresip saw: the answer to its INVITE, then the
    # re-INVITEs of the hold and the resume, each version + 1
    got = re.findall(r"o=tandem \d+ (\d+) IN[\s\S]*?a=(sendrecv|sendonly|recvonly|inactive)",
                     b.read_log())
    assert [g[1] for g in got] == ["sendrecv", "inactive", "sendrecv"], got
    assert [int(g[0]) for g in got] == [int(got[0][0]) + i for i in range(3)], got


async def test_glare_and_refusal_sipp():
    peer = RtpPeer()
    sp, port, cwd = sipp_uas("uas_reneg_glare.xml", extra=[
        "-key", "p1", str(peer.ports[0]), "-key", "p2", str(peer.ports[1]), "-trace_msg",
        "-timeout", "40"])
    try:
        with Gateway() as gw:
            c = await connect(gw)
            pc, rec, call = await browser_call(c, "sip:b@127.0.0.1:%d" % port)
            peer.sending = True
            await asyncio.sleep(2.0)
            t_hold = time.monotonic()
            n_before = rec_len(rec)
            # the peer moves its media during the glare: it sends again from
            # its new port once that is done (the gateway latches onto
            # where the peer's RTP comes from)
            peer.sending = False
            held = await renegotiate(c, pc, call, "sendonly")
            waited = time.monotonic() - t_hold
            assert direction(held) == ["recvonly"], held
            st = await c.wait_state(call, ("held", "answered"), 5)
            assert st["state"] == "held" and st["code"] == 200, st
            peer.cur, peer.sending = 1, True
            await asyncio.sleep(1.0)
            await renegotiate(c, pc, call, "sendrecv")
            assert (await c.wait_state(call, ("resumed", "answered"), 5))["state"] == "resumed"
            t_res = time.monotonic()
            n_res = rec_len(rec)
            await asyncio.sleep(2.0)
            # the peer refuses this one: its status, and the call goes on
            audio_transceiver(pc).direction = "inactive"
            offer = (await pc.createOffer()).sdp
            t_ref = time.monotonic()
            r = await c.request("renegotiate", {"call": call, "sdp": offer})
            err = r.get("error", {})
            assert err.get("code") == 488, r
            assert err.get("data", {}).get("sip_status") == 488, r
            n_ref = rec_len(rec)
            await asyncio.sleep(2.0)
            t_end = time.monotonic()
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            sipp_ok(sp, cwd, keep=True)
            rec.stop()
            await pc.close()
            await counters_zero(c)
            await c.close()
    finally:
        peer.close()
        if sp.poll() is None:
            sp.kill()
    # we placed the call (we own the Call-ID): the retry waited 2.1-4 s
    assert 2.0 <= waited <= 6.0, "the renegotiation after glare took %.1f s" % waited
    msgs = trace_messages(cwd)
    ours = [m for m in msgs if m.lstrip().startswith("INVITE ") and "a=sendonly" in m and
            "o=tandem" in m]
    assert len(ours) == 2, "our re-INVITE was not sent twice (491, again): %d" % len(ours)
    # RFC 3264 8: ours again is newer than our answer to the peer's offer
    # that went first (the first one's version was taken by that answer)
    ans = next(m for m in msgs if m.startswith("SIP/2.0 200") and "CSeq: 2 INVITE" in m)
    version = [int(re.search(r"o=tandem \d+ (\d+)", m).group(1)) for m in (ours[0], ans, ours[1])]
    assert version[2] > version[1] >= version[0], version
    # the peer heard the browser before, after the resume and after the refusal
    tone_in(peer.pcm(0, 0, t_hold - 1.5, t_hold), 8000, 1000, "peer before the hold")
    tone_in(peer.pcm(1, 0, t_res + 0.3, t_ref), 8000, 1000, "peer's new port after the resume")
    tone_in(peer.pcm(1, 0, t_ref + 0.3, t_end), 8000, 1000, "peer after the refusal")
    y, yr = rec.samples()
    tone_in(y[yr // 2:n_before], yr, 440, "browser before the hold")
    tone_in(y[n_res + yr // 4:], yr, 440, "browser after the resume")
    tone_in(y[n_ref:], yr, 440, "browser after the refusal")


def test_chromium_codec_and_direction():
    b = traced_baresip()
    try:
        with Gateway() as gw:
            br = Browser({"ws": gw.url, "to": b.uri, "seconds": 3}, page="reneg_page.html")
            try:
                m = br.wait("measured", 60)
                done = br.wait("done", 20)
            finally:
                br.close()
            assert "call" in done, done
            b.wait_event("CALL_CLOSED")
    finally:
        b.stop()
    before, opus, resumed = m["before"], m["opus"], m["resumed"]
    print("# stats before %s" % before["stats"])
    print("# stats after Opus %s" % opus["stats"])
    print("# stats after the resume %s" % resumed["stats"])
    assert_heard(before["peaks"], 440, "browser on PCMU")
    assert_heard(opus["peaks"], 440, "browser after the change to Opus")
    assert_heard(resumed["peaks"], 440, "browser after the resume")
    assert before["stats"]["codecs"] == {"inbound-rtp": "audio/PCMU",
                                         "outbound-rtp": "audio/PCMU"}, before["stats"]
    for st in (opus["stats"], resumed["stats"]):
        assert st["codecs"] == {"inbound-rtp": "audio/opus", "outbound-rtp": "audio/opus"}, st
        # the transport stayed: the same selected pair, chosen once, the
        # same certificates, DTLS still connected, the same ICE ufrag
        for k in ("pair", "pairChanges", "localCert", "remoteCert", "iceLocalUfrag", "local",
                  "remote"):
            assert st[k] == before["stats"][k], (k, before["stats"], st)
        assert st["dtlsState"] == "connected", st
        assert st["inbound-rtp"] > before["stats"]["inbound-rtp"], (before["stats"], st)
    assert re.search(r"(?m)^a=rtpmap:\d+ opus/48000/2", opus["answer"]), opus["answer"]
    assert direction(resumed["heldAnswer"]) == ["recvonly"], resumed["heldAnswer"]
    assert [s["state"] for s in m["states"]][-2:] == ["held", "resumed"], m["states"]
    # baresip: the call's INVITE on PCMU, then a re-INVITE offering Opus
    # first (it has PCMU only: the gateway transcodes), the hold, the resume
    log = b.read_log()
    offers = re.findall(r"o=tandem \d+ (\d+) IN[\s\S]*?m=audio \d+ RTP/AVP ([\d ]+)"
                        r"[\s\S]*?a=(sendrecv|sendonly|recvonly|inactive)", log)
    assert [o[2] for o in offers] == ["sendrecv", "sendrecv", "sendonly", "sendrecv"], offers
    fmts = offers[1][1].split()
    pt = re.search(r"a=rtpmap:%s opus/48000" % fmts[0], log)
    assert pt, "the codec re-INVITE does not offer Opus first: %s" % offers[1][1]
    x, rate = b.received()
    assert_tone(x[-2 * rate:], rate, 1000, 1.5, "baresip at the end (transcoded from Opus)")


if __name__ == "__main__":
    tap_main([test_browser_call_renegotiated, test_taken_call_renegotiated,
              test_glare_and_refusal_sipp, test_chromium_codec_and_direction])
