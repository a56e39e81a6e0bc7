"""Call transfer through Tandem (issue 11 item 5): aiortc as the browser,
baresip as the SIP phones, one gateway for the file. Each phone plays its
own tone (A 440 Hz, B 660 Hz, C 880 Hz; the browser 1 kHz), so what
arrived says who is connected to whom:

- blind: the browser's `transfer {to: B}` makes A (baresip carries out the
  REFER) call B: B hears A's 440 Hz, the browser's call ends "transferred";
- attended: the browser calls A and B and transfers A to B with
  `replaces`: both calls end "transferred" and B hears A;
- incoming REFER: A transfers the browser (ctrl_tcp `transfer`): the
  gateway calls C on the call's bridge, the browser hears C's 880 Hz and
  A's dialog ends;
- a blind transfer the target refuses leaves the call up, `answered`
  again with the target's 404;
- a REFER to a target the dial plan forbids gets 403 (A reports the
  failed transfer), D is never called, and the call stays up; the same
  target from the browser's `transfer` gets error 403;
- a REFER, or a `transfer`, to a sip: URI at a trunk's address gets 403
  although [calls] allow matches it: a trunk is reached only through the
  dial plan (toll fraud through a carrier that trusts our address), and
  nothing reaches the trunk's port;
- incoming REFER with Replaces (attended transfer, RFC 5589 7; B and C
  are SIPp, 440 and 660 Hz): C's scenario checks that our INVITE carries
  B's Replaces (Call-ID and tags of B's dialog with C) and Referred-By,
  B's that it got 202, NOTIFYs with sipfrags 100 and 200, then our BYE;
  the browser hears C after B. A Replaces without from-tag gets 400, one
  to a forbidden target 403; the call stays on B, unchanged."""

import asyncio
import os
import re
import socket
import subprocess
import tempfile
import time
from urllib.parse import quote

import numpy as np
import websockets

from aiortc import RTCSessionDescription

from abuse import udp_bound
from aiortc_peer import Client, offering_pc
from peers import Baresip, assert_tone, dominant
from tandem_harness import Gateway, free_port, tap_main
from test_replaces import SIPP_DIR, sipp, sipp_dir, sipp_ok

MEDIA_S = 2.5
CARRIER = free_port(also_udp=True)   # a trunk's address; nothing of ours listens
TONE_DIR = tempfile.mkdtemp(prefix="tandem-xfer-tones-")
PEERS = {}
GW = {}


def tone(hz):
    """A 30 s mono 48 kHz sine at hz (baresip's aufile source)."""
    path = os.path.join(TONE_DIR, "tone%d.wav" % hz)
    if not os.path.exists(path):
        subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", path, "synth",
                        "30", "sine", str(hz), "vol", "0.5"], check=True)
    return path


def phone(user, hz):
    b = Baresip(user, source_wav=tone(hz), codecs="pcmu").start()
    PEERS[user] = b
    return b


def gateway():
    """One gateway for the file; its dial plan allows a, b and c only, and
    a trunk (a carrier trusting our address) sits at 127.0.0.1:CARRIER."""
    if "gw" not in GW:
        allow = ",".join("sip:%s@127.0.0.1:*" % u for u in ("a", "b", "c"))
        GW["gw"] = Gateway("[calls]\nallow = %s\n[trunks]\ncarrier.address = "
                           "sip:127.0.0.1:%d\n[dialplan]\nintl = 00 -> carrier users=root\n"
                           % (allow, CARRIER)).start()
    return GW["gw"]


async def connect(user="alice"):
    ws = await websockets.connect(gateway().url, subprotocols=["tandem.v1"],
                                  max_size=2 ** 22)
    c = Client(ws)
    await c.call("login", {"user": user})
    return c


async def place(c, b, record=False):
    """Browser call to baresip b, answered: (call id, pc, recorder)."""
    pc, rec = await offering_pc("PCMU", record=record)
    r = await c.call("call", {"to": b.uri, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(r["call"], "answered")
    assert st["code"] == 200, st
    b.wait_event("CALL_ESTABLISHED")
    return r["call"], pc, rec


def fresh(*users):
    """Phones without a call left over: each test starts its own."""
    return [phone(u, {"a": 440, "b": 660, "c": 880, "d": 550}[u]) for u in users]


def stop_all(*phones):
    for b in phones:
        b.stop()


async def test_blind_transfer_browser_to_b():
    a, b = fresh("a", "b")
    try:
        c = await connect()
        call, pc, _ = await place(c, a)
        assert await c.call("transfer", {"call": call, "to": b.uri}) == {}
        st = await c.wait_state(call, "transferring")
        # B rings for A (baresip sends the INVITE the REFER asked for)
        b.wait_event("CALL_ESTABLISHED", timeout=15)
        st = await c.wait_state(call, "ended", timeout=15)
        assert st["reason"] == "transferred" and st["code"] == 200, st
        await asyncio.sleep(MEDIA_S)
        await pc.close()
        await c.close()
    finally:
        stop_all(a, b)
    x, rate = b.received()
    assert_tone(x, rate, 440, 1.5, "B (transferred to A)")


async def test_attended_transfer_a_to_b():
    a, b = fresh("a", "b")
    try:
        c = await connect()
        c1, pc1, _ = await place(c, a)
        c2, pc2, _ = await place(c, b)
        assert await c.call("transfer", {"call": c1, "replaces": c2}) == {}
        await c.wait_state(c1, "transferring")
        st1 = await c.wait_state(c1, "ended", timeout=15)
        st2 = await c.wait_state(c2, "ended", timeout=15)
        assert st1["reason"] == "transferred" and st2["reason"] == "transferred", (st1, st2)
        await asyncio.sleep(MEDIA_S)
        await pc1.close()
        await pc2.close()
        await c.close()
    finally:
        stop_all(a, b)
    # B's last call is A's (dump files are named by start time)
    x, rate = b.received()
    assert_tone(x, rate, 440, 1.5, "B (connected to A)")


async def test_incoming_refer_calls_c():
    a, cc = fresh("a", "c")
    try:
        c = await connect()
        call, pc, rec = await place(c, a, record=True)
        await asyncio.sleep(1)
        a.command("transfer", cc.uri)
        st = await c.wait_state(call, "transferring")
        st = await c.wait_state(call, "answered", timeout=15)
        assert st["code"] == 200, st
        mark = sum(len(x) for x in rec.chunks)
        cc.wait_event("CALL_ESTABLISHED")
        a.wait_event("CALL_CLOSED", timeout=10)
        await asyncio.sleep(MEDIA_S + 0.5)
        x, rate = rec.samples()
        # the first 0.5 s after the swap may still hold A's last packets
        after = x[mark:]
        assert_tone(after, rate, 880, 2, "browser after the transfer")
        before = x[:mark]
        peak, rms, _ = dominant(before, rate)
        assert abs(peak - 440) <= 20, "browser heard %.0f Hz before, not A's 440" % peak
        await c.call("hangup", {"call": call})
        cc.wait_event("CALL_CLOSED")
        rec.stop()
        await pc.close()
        await c.close()
    finally:
        stop_all(a, cc)
    x, rate = cc.received()
    assert_tone(x, rate, 1000, 1.5, "C (the browser's tone)")


async def test_refer_to_forbidden_target_403():
    a, d = fresh("a", "d")
    try:
        c = await connect()
        call, pc, _ = await place(c, a)
        m = await c.request("transfer", {"call": call, "to": d.uri})
        assert m.get("error", {}).get("code") == 403, m
        a.command("transfer", d.uri)
        ev = a.wait_event(("TRANSFER_FAILED", "CALL_TRANSFER_FAILED"), timeout=10)
        assert "403" in str(ev.get("param", "")), ev
        # no call went to D; the gateway left the call as it was (never
        # `transferring`) until A, as baresip does after a failed transfer,
        # hung up
        st = await c.wait_state(call, ("transferring", "ended"), timeout=10)
        assert st["state"] == "ended" and st["reason"] == "BYE", st
        d.command("reginfo")
        assert not [e for e in d.events if e.get("type", "").startswith("CALL_")], d.events
        await pc.close()
        await c.close()
    finally:
        stop_all(a, d)


async def test_refer_to_trunk_address_403():
    """sip:a@127.0.0.1:CARRIER passes [calls] allow, but it is the trunk's
    address: a REFER from A there (toll fraud through a trusting carrier)
    gets 403 and the browser's blind transfer there too; nothing reaches the
    carrier's port."""
    carrier = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    carrier.bind(("127.0.0.1", CARRIER))
    carrier.settimeout(0.5)
    a, = fresh("a")
    target = "sip:a@127.0.0.1:%d" % CARRIER
    try:
        c = await connect()
        call, pc, _ = await place(c, a)
        m = await c.request("transfer", {"call": call, "to": target})
        assert m.get("error", {}).get("code") == 403, m
        assert "trunk carrier" in m["error"]["message"], m
        a.command("transfer", target)
        ev = a.wait_event(("TRANSFER_FAILED", "CALL_TRANSFER_FAILED"), timeout=10)
        assert "403" in str(ev.get("param", "")), ev
        st = await c.wait_state(call, ("transferring", "ended"), timeout=10)
        assert st["state"] == "ended", st
        try:
            data = carrier.recv(4096)
            raise AssertionError("the carrier got %r" % data[:200])
        except socket.timeout:
            pass
        await pc.close()
        await c.close()
    finally:
        carrier.close()
        stop_all(a)


async def test_blind_transfer_fails_call_stays():
    """The target refuses (baresip D has no user b: 404): A's NOTIFY says
    so, the browser's call is `answered` again with 404 and still up (its
    hangup reaches A)."""
    a, d = fresh("a", "d")
    try:
        c = await connect()
        call, pc, _ = await place(c, a)
        wrong = "sip:b@127.0.0.1:%d" % d.sip_port
        assert await c.call("transfer", {"call": call, "to": wrong}) == {}
        await c.wait_state(call, "transferring")
        st = await c.wait_state(call, ("answered", "ended"), timeout=15)
        assert st["state"] == "answered" and st["code"] == 404, st
        await c.call("hangup", {"call": call})
        a.wait_event("CALL_CLOSED")
        await pc.close()
        await c.close()
    finally:
        stop_all(a, d)


# B's dialog with C as both would name it: C's tag is the to-tag (RFC 3891
# 3: the tag of the dialog's recipient), B's the from-tag
BC_DIALOG = ("bc-7f3a@127.0.0.1", "c-tag-81", "b-tag-22")


def sipp_phone(args, cwd, scenario=None, text=None):
    """SIPp on a free port, once it is bound: (proc, port)."""
    port = free_port(also_udp=True)
    p = sipp(["-i", "127.0.0.1", "-p", str(port)] + args, cwd, scenario, text)
    deadline = time.monotonic() + 5
    while not udp_bound(port):
        assert p.poll() is None and time.monotonic() < deadline, "SIPp did not start"
        time.sleep(0.02)
    return p, port


def refer_to(user, port):
    """sip:user@.. with B's Replaces escaped into its headers part."""
    rp = "%s;to-tag=%s;from-tag=%s" % BC_DIALOG
    return "sip:%s@127.0.0.1:%d?Replaces=%s" % (user, port, quote(rp, safe=""))


async def browser_calls(c, uri):
    pc, rec = await offering_pc("PCMU", record=True)
    r = await c.call("call", {"to": uri, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(r["call"], "answered")
    assert st["code"] == 200, st
    return r["call"], pc, rec


async def test_refer_with_replaces_calls_c():
    call_id, to_tag, from_tag = (x.replace(".", "\\.") for x in BC_DIALOG)
    with open(os.path.join(SIPP_DIR, "uas_replacing.xml")) as f:
        ctext = f.read().replace("@REPLACES@", "%s;(to-tag=%s;from-tag=%s|from-tag=%s;to-tag=%s)"
                                 % (call_id, to_tag, from_tag, from_tag, to_tag))
    cp, cport = sipp_phone([], sipp_dir(660), text=ctext)
    bp, bport = sipp_phone(["-key", "refer_to", refer_to("c", cport)], sipp_dir(440),
                           "uas_refer_replaces.xml")
    c = await connect()
    call, pc, rec = await browser_calls(c, "sip:b@127.0.0.1:%d" % bport)
    try:
        st = await c.wait_state(call, "transferring", timeout=10)
        assert "attended" in st.get("reason", ""), st
        st = await c.wait_state(call, ("answered", "ended"), timeout=15)
        assert st["state"] == "answered" and st["code"] == 200, st
        mark = sum(len(x) for x in rec.chunks)
        # both SIPp send one SSRC and sequence range: C is numbered as a new
        # source when its address arrives, so it is heard at once
        await asyncio.sleep(MEDIA_S)
        x, rate = rec.samples()
        sipp_ok(bp, "B (202, NOTIFY 100 and 200, then our BYE)", timeout=10)
        assert_tone(x[mark:], rate, 660, 1.5, "browser after the transfer (C)")
        peak, _, _ = dominant(x[:mark], rate)
        assert abs(peak - 440) <= 20, "browser heard %.0f Hz before, not B's 440" % peak
        await c.call("hangup", {"call": call})
        sipp_ok(cp, "C (INVITE with B's Replaces and Referred-By, then BYE)")
    finally:
        rec.stop()
        await pc.close()
        await c.close()
        for p in (bp, cp):
            if p.poll() is None:
                p.kill()


async def test_refer_with_replaces_refused():
    """B refers twice: a Replaces without from-tag gets 400, a right one to
    D (not in the dial plan) 403; the call stays on B, no state changes."""
    with open(os.path.join(SIPP_DIR, "uas_refer_replaces.xml")) as f:
        # the NOTIFYs' checks go with the accepted part
        text = f.read().replace(",e1,f1,s2,f2", "")
    refer = re.search(r"(?s)  <send retrans=\"500\">\s*<!\[CDATA\[\s*REFER .*?</send>\n",
                      text).group(0)
    second = refer.replace("CSeq: 1 REFER", "CSeq: 2 REFER").replace("[refer_to]",
                                                                      "[refer_to2]")
    btext = re.sub(r"(?s)<!-- accepted -->.*<!-- /accepted -->",
                   lambda _: '<recv response="400" timeout="10000"/>\n' + second +
                   '  <recv response="403" timeout="10000"/>', text)
    nowhere = free_port(also_udp=True)
    no_from_tag = "sip:c@127.0.0.1:%d?Replaces=%s" % (
        nowhere, quote("%s;to-tag=%s" % BC_DIALOG[:2], safe=""))
    # nothing listens at `nowhere`: an INVITE leaking there would only
    # show as a state change of the call
    bp, bport = sipp_phone(["-key", "refer_to", no_from_tag,
                            "-key", "refer_to2", refer_to("d", nowhere)], sipp_dir(440),
                           text=btext)
    c = await connect()
    call, pc, rec = await browser_calls(c, "sip:b@127.0.0.1:%d" % bport)
    try:
        await asyncio.sleep(3)
        notes = list(c.backlog)
        while not c.notes.empty():
            notes.append(c.notes.get_nowait())
        assert not [m for m in notes if m["method"] == "call.state" and
                    m["params"]["call"] == call], notes
        x, rate = rec.samples()
        assert_tone(x[len(x) // 2:], rate, 440, 0.5, "browser after the refusals (still B)")
        await c.call("hangup", {"call": call})
        sipp_ok(bp, "B (400 and 403 to its REFERs, then our BYE)")
    finally:
        rec.stop()
        await pc.close()
        await c.close()
        if bp.poll() is None:
            bp.kill()


def cleanup():
    for gw in GW.values():
        gw.stop()
    for b in PEERS.values():
        b.stop()


if __name__ == "__main__":
    tap_main([test_blind_transfer_browser_to_b, test_attended_transfer_a_to_b,
              test_incoming_refer_calls_c, test_refer_to_forbidden_target_403,
              test_refer_to_trunk_address_403,
              test_blind_transfer_fails_call_stays, test_refer_with_replaces_calls_c,
              test_refer_with_replaces_refused], cleanup)
