"""Trunks and the dial plan (issue 11 items 2, 6 and 8): one gateway with
four trunks, each a SIPp peer (or nothing) on its own loopback port.

- a `call` to the dial string 0201234567 reaches the "uk" trunk's SIPp as
  sip:+44201234567@... (national 0 -> +44), offered PCMA first (the trunk's
  codecs = PCMA, PCMU, while [media] sip_codecs starts with PCMU);
- a trunk that challenges (401) gets our digest answer and answers 200 only
  when SIPp's verifyauth accepts it;
- per-user rights: a number only bob's rule covers gets 403 for alice, and a
  sip: URI is untouched by the dial plan, unless it is a trunk's address
  (or a `from` IP of it at that port): then `call` and `message` get 403,
  since a trunk is reached only through the dial plan;
- DIDs: an INVITE from the trunk's source address to its DID rings the
  mapped user (alice's WebSocket gets `incoming`, and her 486 reaches the
  trunk); an unknown DID, or a user name instead of a DID, gets 404; the
  same INVITE from a source outside every trunk gets 403 (no open relay);
- a call in from a trunk gets its codecs and SRTP policy: G.722 alone
  from uk (PCMA, PCMU) and plain RTP from secure (mandatory) get 488;
- OPTIONS pings: the "dead" trunk (nothing listens) goes down in
  /metrics (tandem_trunk_up 0) and admin.trunks while the others stay up; a call whose rule
  lists dead then backup reaches backup, and one whose only trunk is dead
  gets 503;
- a 302 from the trunk to another target ends the call with 302: the
  target hears nothing (a redirect never takes a call where the dial plan
  did not send it)."""

import asyncio
import os
import re
import socket
import time

from aiortc import RTCSessionDescription
from aiortc_peer import offering_pc
from tandem_harness import Gateway, error_code, free_port, tap_main
from test_abuse_sip import SDP, request
from test_call_aiortc import connect, counters_zero
from test_metrics import fetch, parse
from test_sip_calls import sipp_ok, sipp_uas

UK, AUTH, DEAD, BACKUP, SECURE = (free_port(also_udp=True) for _ in range(5))
TRUNK_SRC = "127.0.0.7"
SECURE_SRC = "127.0.0.8"

CONF = """[auth]
admins = root
[sip]
trusted = 127.0.0.1
[trunks]
uk.address = sip:127.0.0.1:%d
uk.codecs = PCMA, PCMU
uk.from = %s
uk.did = +442071234567=alice, 442071234568=bob
auth.address = sip:127.0.0.1:%d
auth.auth_user = gw
auth.password = s3cret
dead.address = sip:127.0.0.1:%d
dead.options_ping = 1
backup.address = sip:127.0.0.1:%d
secure.address = sip:127.0.0.1:%d
secure.srtp = mandatory
secure.from = %s
secure.did = 5550100=alice
[dialplan]
intl = 00 -> uk strip=2 prepend=+ users=bob
national = ~^0[1-9] -> uk strip=1 prepend=+44
auth = 8 -> auth strip=1
failover = 7 -> dead,backup
onlydead = 6 -> dead
secure = 59 -> secure strip=2
""" % (UK, TRUNK_SRC, AUTH, DEAD, BACKUP, SECURE, SECURE_SRC)

GW = Gateway(extra=CONF)


def invite_of(cwd):
    """The first INVITE SIPp logged (-trace_msg)."""
    for name in os.listdir(cwd):
        if name.endswith("_messages.log"):
            with open(os.path.join(cwd, name), errors="replace") as f:
                text = f.read()
            m = re.search(r"^INVITE .*?(?=^-{5,}|\Z)", text, re.S | re.M)
            assert m, text[:1500]
            return m.group(0)
    raise AssertionError("SIPp wrote no message log in %s" % cwd)


async def call_through(c, to, port, scenario="uas_answer_bye.xml"):
    """Places a call to `to` that a SIPp trunk on `port` answers; hangs up.
    Returns the INVITE SIPp got."""
    sp, _, cwd = sipp_uas(scenario, port, extra=["-trace_msg"])
    pc, _ = await offering_pc()
    try:
        r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        await c.wait_state(r["call"], "answered", 15)
        await c.call("hangup", {"call": r["call"]})
        await c.wait_state(r["call"], "ended", 10)
    finally:
        await pc.close()
    sipp_ok(sp, cwd, keep=True)
    return invite_of(cwd)


async def test_dial_string_normalised_and_trunk_codecs():
    c = await connect(GW)
    try:
        inv = await call_through(c, "0201234567", UK)
        first = inv.splitlines()[0]
        assert first.startswith("INVITE sip:+44201234567@127.0.0.1:%d" % UK), first
        m = re.search(r"^m=audio \d+ RTP/AVP ([0-9 ]+)", inv, re.M)
        assert m and m.group(1).split()[:2] == ["8", "0"], inv
        # tel: URIs take the same path
        inv = await call_through(c, "tel:020-1234-567", UK)
        assert inv.startswith("INVITE sip:+44201234567@"), inv.splitlines()[0]
        await counters_zero(c)
    finally:
        await c.close()


async def test_trunk_srtp_policy():
    """secure.srtp = mandatory while [media] sip_srtp is off: the trunk gets
    RTP/SAVP with SDES keys, a trunk without srtp plain RTP/AVP."""
    c = await connect(GW)
    sp, _, cwd = sipp_uas("uas_busy.xml", SECURE, extra=["-trace_msg"])
    pc, _ = await offering_pc()
    try:
        r = await c.call("call", {"to": "591234", "sdp": pc.localDescription.sdp})
        st = await c.wait_state(r["call"], "ended", 15)
        assert st["code"] == 486, st
    finally:
        await pc.close()
    sipp_ok(sp, cwd, keep=True)
    inv = invite_of(cwd)
    assert re.search(r"^m=audio \d+ RTP/SAVP ", inv, re.M), inv
    assert re.search(r"^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", inv, re.M), inv
    inv = await call_through(c, "0201234567", UK)
    assert re.search(r"^m=audio \d+ RTP/AVP ", inv, re.M) and "a=crypto" not in inv, inv
    await counters_zero(c)
    await c.close()


async def test_trunk_digest():
    c = await connect(GW)
    try:
        inv = await call_through(c, "81234", AUTH, "uas_trunk_auth.xml")
        assert inv.startswith("INVITE sip:1234@127.0.0.1:%d" % AUTH), inv.splitlines()[0]
    finally:
        await c.close()


async def test_user_rights_403():
    alice, bob = await connect(GW, "alice"), await connect(GW, "bob")
    try:
        pc, _ = await offering_pc()
        m = await alice.request("call", {"to": "0015551234567",
                                         "sdp": pc.localDescription.sdp})
        assert error_code(m) == 403, m
        assert "not allowed by the dial plan" in m["error"]["message"], m
        # no rule at all for this one
        m = await alice.request("call", {"to": "5550000", "sdp": pc.localDescription.sdp})
        assert error_code(m) == 403, m
        await pc.close()
        # bob may: it reaches uk as +15551234567
        inv = await call_through(bob, "0015551234567", UK)
        assert inv.startswith("INVITE sip:+15551234567@"), inv.splitlines()[0]
        await counters_zero(alice)
    finally:
        await alice.close()
        await bob.close()


async def test_sip_uri_at_trunk_403():
    """A sip: URI straight at the uk trunk's address, or at its `from` IP on
    the same port, would let alice reach international numbers that only
    bob's rule allows (a carrier that trusts our address places any call it
    gets): `call` and `message` get 403 naming the trunk, and nothing reaches
    the trunk's port. Another port of that IP is an ordinary SIP peer."""
    trunk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trunk.bind(("127.0.0.1", UK))
    trunk.settimeout(0.5)
    alice = await connect(GW, "alice")
    pc, _ = await offering_pc()
    try:
        for to in ("sip:0015551234567@127.0.0.1:%d" % UK,
                   "sip:+15551234567@127.0.0.1:%d;transport=udp" % UK,
                   "sip:+15551234567@%s:%d" % (TRUNK_SRC, UK)):
            await asyncio.sleep(0.6)   # under [calls] rate (4/s per user)
            m = await alice.request("call", {"to": to, "sdp": pc.localDescription.sdp})
            assert error_code(m) == 403, (to, m)
            assert "trunk uk" in m["error"]["message"], m
            m = await alice.request("message", {"to": to, "body": "hi"})
            assert error_code(m) == 403, (to, m)
        try:
            data = trunk.recv(4096)
            raise AssertionError("the trunk got %r" % data[:200])
        except socket.timeout:
            pass
        # the same IP at another port is not the trunk: the call is placed
        await asyncio.sleep(0.6)
        m = await alice.request("call", {"to": "sip:x@127.0.0.1:%d" % free_port(also_udp=True),
                                         "sdp": pc.localDescription.sdp})
        assert "result" in m, m
        # (nothing listens there: it may have ended already)
        await alice.request("hangup", {"call": m["result"]["call"]})
        await alice.wait_state(m["result"]["call"], "ended", 15)
        await counters_zero(alice)
    finally:
        trunk.close()
        await pc.close()
        await alice.close()


async def not_rung(alice):
    """No `incoming` reaches alice within 0.5 s: a refused INVITE rang nobody."""
    try:
        await alice.wait_note(lambda m: m["method"] == "incoming", 0.5)
    except AssertionError:
        return
    raise AssertionError("an INVITE that was refused rang alice")


async def test_did_inbound():
    alice = await connect(GW, "alice")
    loop = asyncio.get_running_loop()
    try:
        fut = loop.run_in_executor(None, lambda: request(GW.sip_port, "INVITE",
                                                         user="+442071234567",
                                                         source=TRUNK_SRC, timeout=15))
        note = await alice.wait_note(lambda m: m["method"] == "incoming", 10)
        await alice.call("reject", {"call": note["params"]["call"], "code": 486})
        status, _ = await fut
        assert status == 486, status
        # unknown DID, or a user's name from a trunk: 404
        for user in ("+442079999999", "alice"):
            status, _ = await loop.run_in_executor(None, lambda: request(
                GW.sip_port, "INVITE", user=user, source=TRUNK_SRC))
            assert status == 404, (user, status)
        # the DID from outside every trunk: 403, nothing rings
        status, _ = await loop.run_in_executor(None, lambda: request(
            GW.sip_port, "INVITE", user="+442071234567", source="127.0.0.9"))
        assert status == 403, status
        await not_rung(alice)
        await counters_zero(alice)
    finally:
        await alice.close()


async def test_inbound_trunk_codecs_and_srtp():
    """A call in from a trunk gets that trunk's codecs and SRTP policy, as
    calls out through it do: uk (codecs PCMA, PCMU) refuses an offer of
    G.722 alone with 488 although [media] sip_codecs serves G.722, and takes
    PCMU; secure (srtp = mandatory) refuses plain RTP/AVP with 488 although
    [media] sip_srtp is off. Neither refused call rings alice."""
    alice = await connect(GW, "alice")
    loop = asyncio.get_running_loop()
    g722 = SDP.replace("RTP/AVP 0\r\n", "RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n")
    try:
        for src, did, sdp in ((TRUNK_SRC, "+442071234567", g722),
                              (SECURE_SRC, "5550100", SDP)):
            status, text = await loop.run_in_executor(None, lambda: request(
                GW.sip_port, "INVITE", user=did, source=src, sdp=sdp))
            assert status == 488, (src, status, text[:400])
        await not_rung(alice)
        # PCMU from uk rings her (and she declines)
        fut = loop.run_in_executor(None, lambda: request(GW.sip_port, "INVITE",
                                                         user="+442071234567",
                                                         source=TRUNK_SRC, timeout=15))
        note = await alice.wait_note(lambda m: m["method"] == "incoming", 10)
        await alice.call("reject", {"call": note["params"]["call"], "code": 486})
        status, _ = await fut
        assert status == 486, status
        await counters_zero(alice)
    finally:
        await alice.close()


async def test_3xx_not_followed():
    """A redirect from the trunk ends the call with its status; the target
    it names (another address) hears nothing."""
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.setblocking(False)
    sp, _, cwd = sipp_uas("uas_302.xml", UK, extra=["-key", "target",
                                                     str(other.getsockname()[1])])
    c = await connect(GW)
    pc, _ = await offering_pc()
    try:
        r = await c.call("call", {"to": "0201234567", "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
        st = await c.wait_state(r["call"], "ended", 15)
        assert st.get("code") == 302, st
        sipp_ok(sp, cwd)
        await asyncio.sleep(1)   # time for a followed INVITE to arrive
        try:
            got = other.recv(65535)
            raise AssertionError("the redirect was followed: %r" % got[:200])
        except BlockingIOError:
            pass
        await counters_zero(c)
    finally:
        await pc.close()
        await c.close()
        other.close()


def trunk_up():
    return {dict(k[1])["trunk"]: v for k, v in parse(fetch(GW)).items()
            if k[0] == "tandem_trunk_up"}


async def test_options_ping_down_and_failover():
    deadline = time.monotonic() + 15
    while trunk_up().get("dead") != 0:
        assert time.monotonic() < deadline, trunk_up()
        await asyncio.sleep(0.2)
    assert trunk_up() == {"uk": 1, "auth": 1, "dead": 0, "backup": 1, "secure": 1}, trunk_up()
    root = await connect(GW, "root")
    trunks = {t["name"]: t for t in (await root.call("admin.trunks"))["trunks"]}
    await root.close()
    assert set(trunks) == {"uk", "auth", "dead", "backup", "secure"}, trunks
    assert not trunks["dead"]["up"] and trunks["dead"]["pinged"], trunks["dead"]
    assert trunks["dead"]["fails"] >= 2, trunks["dead"]
    assert trunks["uk"]["up"] and not trunks["uk"]["pinged"] and trunks["uk"]["dids"] == 2
    c = await connect(GW)
    try:
        inv = await call_through(c, "7100", BACKUP)
        assert inv.startswith("INVITE sip:7100@127.0.0.1:%d" % BACKUP), inv.splitlines()[0]
        pc, _ = await offering_pc()
        m = await c.request("call", {"to": "6100", "sdp": pc.localDescription.sdp})
        await pc.close()
        assert error_code(m) == 503, m
        await counters_zero(c)
    finally:
        await c.close()


def cleanup():
    GW.__exit__(None, None, None)


if __name__ == "__main__":
    GW.start()
    tap_main([test_dial_string_normalised_and_trunk_codecs, test_trunk_srtp_policy,
              test_trunk_digest,
              test_user_rights_403, test_sip_uri_at_trunk_403, test_did_inbound,
              test_inbound_trunk_codecs_and_srtp, test_3xx_not_followed, test_options_ping_down_and_failover],
             cleanup)
