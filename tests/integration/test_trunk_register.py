"""Trunks that register (issue 11 items 2 and 7), with Kamailio as the
carrier's registrar (db_text subscriber "gwtrunk", digest) and baresip as
a phone on the carrier calling the trunk's DID. Kamailio maps the DID to
the trunk's AOR and sends the INVITE to the Contact we registered, the DID
left in To, as carriers do. Each test asserts on what a peer saw:
Kamailio's location table (our Contact, its CSeq, the socket it came on)
and its open connections (kamcmd core.tcp_list), the SIP status a raw
INVITE got, the tone each side recorded, and admin.trunks and /metrics.

- the trunk registers, Kamailio sees the refresh before expiry, a call from
  baresip to the DID rings the DID's user with tones both ways, the Contact
  refuses other sources and unknown DIDs, and SIGTERM removes the binding;
- a wrong password shows as failed with 401 (admin.trunks, metric 0);
- over TCP, with Kamailio closing connections idle for 3 s, the flow of a
  gateway sending CRLF keep-alives every second is still open after 12 s and
  carries the carrier's INVITE (Kamailio may not open a new connection:
  set_forward_no_connect), while a gateway with keepalive = 0 lost its flow
  and the same INVITE never reaches it;
- over TLS (Tandem verifying Kamailio's certificate with tls_ca) the same:
  the binding came over TLS, and the flow, kept by OPTIONS (Sofia has no
  TLS keep-alive timer), still carries the INVITE after 12 s;
- an account (not a trunk) registers over TLS too and takes a call over it
  (kept here rather than in test_register.py, whose file the ASan gateway
  runs: Sofia never frees a TLS connection's OpenSSL state)."""

import asyncio
import os
import socket
import time

from aiortc import RTCSessionDescription

from aiortc_peer import Recorder, ToneTrack, new_pc
from kamailio import Kamailio
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, free_port, tap_main
from test_metrics import fetch, scrape
from test_register import USERS as ACCOUNT_USERS
from test_register import bob_calls_alice, connect, counters_zero, raw_invite, register
from test_register import gw_conf as account_conf
from test_register import tls_conf, wait_for
from test_sip_tls import pki

USERS = {"gwtrunk": "trunkpw", "gwtrunk2": "trunkpw", "bob": "bobpw"}
DID, DID2 = "442071234567", "442071234999"
# Kamailio 5.6 closes an idle connection about 10 s after its last byte
# with any lifetime this short (a reader process holds it for a while
# before the lifetime timer runs): 12 s is past that
LIFETIME = 2
IDLE_WAIT = 12


def gw_conf(address, user="gwtrunk", did=DID, password="trunkpw", transport="", expires=60,
            keepalive=30, sip=""):
    return ("[auth]\nadmins = root\n[sip]\nregister_retry_max = 4\nkeepalive = %d\n%s"
            "[trunks]\ncarrier.address = %s\ncarrier.register = true\n"
            "carrier.auth_user = %s\ncarrier.password = %s\ncarrier.expires = %d\n"
            "carrier.did = +%s=alice\n%s" % (
                keepalive, sip, address, user, password, expires, did,
                "carrier.transport = %s\n" % transport if transport else ""))


def ours(kam, gw, user="gwtrunk"):
    return [c for c in kam.contacts(user) if "sip:tnd" in c["uri"]]


async def trunk_info(gw):
    root = await connect(gw, "root")
    try:
        return {t["name"]: t for t in (await root.call("admin.trunks"))["trunks"]}["carrier"]
    finally:
        await root.close()


def registered_metric(gw):
    return scrape(gw).get(("tandem_trunk_registered", (("trunk", "carrier"),)))


async def answer(c):
    inc = (await c.wait_note(lambda m: m["method"] == "incoming", timeout=15))["params"]
    pc, rec = new_pc(), Recorder()
    pc.on("track", lambda t: rec.start(t))
    await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
    pc.addTrack(ToneTrack(1000))
    await pc.setLocalDescription(await pc.createAnswer())
    await c.call("answer", {"call": inc["call"], "sdp": pc.localDescription.sdp})
    await c.wait_state(inc["call"], "answered")
    return inc, pc, rec


async def test_trunk_registers_refreshes_and_takes_calls():
    """expires 10: Kamailio holds our Contact for gwtrunk, then a refresh
    (higher CSeq, same Contact) before it lapses; admin.trunks and the
    metric say registered. bob calls the DID: alice rings, answers, and
    each side hears the other. Loopback is trusted in this gateway, yet the
    Contact refuses an INVITE from another port (403) and one whose To is
    no DID (404). SIGTERM removes the binding at Kamailio."""
    with Kamailio(USERS, dids={DID: "gwtrunk"}) as kam:
        gw = Gateway(gw_conf(kam.uri, expires=10, sip="trusted = 127.0.0.1\n")).start()
        try:
            first = (await wait_for(lambda: ours(kam, gw), "our Contact at Kamailio"))[0]
            info = await trunk_info(gw)
            assert info["registration"] == {"state": "registered", "code": 200,
                                            "expires": 10}, info
            assert registered_metric(gw) == 1, fetch(gw)[-600:]
            t0 = time.monotonic()
            again = await wait_for(lambda: [x for x in ours(kam, gw)
                                            if int(x["cseq"]) > int(first["cseq"])],
                                   "a refreshed Contact", 12)
            assert time.monotonic() - t0 < 10, "refresh came after the binding expired"
            assert again[0]["uri"] == first["uri"], (first, again)
            c = await connect(gw, "alice")
            b = Baresip("bob", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                        codecs="pcmu", register=(kam.hostport, "bobpw")).start()
            try:
                await wait_for(lambda: kam.contacts("bob"), "baresip registered", 15)
                b.dial("sip:%s@%s" % (DID, kam.hostport))
                inc, pc, rec = await answer(c)
                assert DID in inc["to"] and "sip:bob@" in inc["from"], inc
                b.wait_event("CALL_ESTABLISHED")
                await asyncio.sleep(3)
                contact = first["uri"].split(";")[0]
                user = contact.split(":")[1].split("@")[0]
                ruri = "sip:%s@127.0.0.1:%d" % (user, gw.sip_port)
                assert raw_invite(gw.sip_port, ruri, free_port(kind=socket.SOCK_DGRAM)) \
                    == 403
                b.hangup()
                await c.wait_state(inc["call"], "ended")
                rec.stop()
                await pc.close()
            finally:
                b.stop()
            x, rate = rec.samples()
            assert_tone(x, rate, 440, 2, "aiortc received")
            x, rate = b.received()
            assert_tone(x, rate, 1000, 2, "baresip received")
            await counters_zero(c)
            await c.close()
            assert gw.stop() == 0
            await wait_for(lambda: not ours(kam, gw), "Contact removed at SIGTERM", 5)
        finally:
            gw.stop()


async def test_wrong_password_reported():
    """Kamailio answers the digest with 401 again: admin.trunks says failed
    with 401, the metric is 0, and nothing is bound. admin.reload with the
    right password registers the trunk (a registration.registered event
    names it trunk:carrier)."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam.uri, password="wrong")) as gw:
        info = None
        deadline = time.monotonic() + 10
        while not info or not info["registration"]["code"]:
            assert time.monotonic() < deadline, info
            await asyncio.sleep(0.2)
            info = await trunk_info(gw)
        assert info["registration"]["state"] == "failed", info
        assert info["registration"]["code"] == 401, info
        assert registered_metric(gw) == 0, fetch(gw)[-600:]
        assert not ours(kam, gw)
        gw.write_conf(gw_conf(kam.uri))
        root = await connect(gw, "root")
        await root.call("events.subscribe")
        await root.call("admin.reload")
        ev = (await root.wait_note(lambda m: m["method"] == "event" and
                                   m["params"]["event"] == "registration.registered"))
        reg = ev["params"]["registration"]
        assert reg["registration"] == "trunk:carrier" and reg["code"] == 200, ev
        assert reg["aor"] == "sip:gwtrunk@%s" % kam.hostport, ev
        await root.close()
        await wait_for(lambda: ours(kam, gw), "our Contact after the reload")
        assert (await trunk_info(gw))["registration"]["state"] == "registered"
        assert registered_metric(gw) == 1


async def ring_over_flow(kam, gw, did):
    """bob calls did; Kamailio may only use the registration's connection.
    alice's socket gets `incoming` for it, and her 486 reaches bob."""
    c = await connect(gw, "alice")
    b = Baresip("bob", codecs="pcmu", register=(kam.hostport, "bobpw")).start()
    try:
        await wait_for(lambda: kam.contacts("bob"), "baresip registered", 15)
        b.dial("sip:%s@%s" % (did, kam.hostport))
        inc = (await c.wait_note(lambda m: m["method"] == "incoming", 10))["params"]
        assert did in inc["to"], inc
        await c.call("reject", {"call": inc["call"], "code": 486})
        ev = b.wait_event("CALL_CLOSED", 10)
        assert "486" in ev.get("param", ""), ev
    finally:
        b.stop()
        await c.close()


def flow(kam, gw, user):
    """(Kamailio's connection id, our port) of the connection user's
    binding came over (fix_nated_register kept its source as Received),
    or None when Kamailio holds no such connection."""
    got = ours(kam, gw, user)
    if not got or "received" not in got[0]:
        return None
    port = got[0]["received"].split(";")[0].rsplit(":", 1)[1]
    for c in kam.tcp_connections():
        if c.get("src_port") == port:
            return c["id"], port
    return None


async def flow_kept(transport, kam_args, address, gw_sip=lambda: ""):
    """Two gateways register: gwtrunk keeps its flow with keepalive = 1,
    gwtrunk2 has keepalive = 0. IDLE_WAIT s later the first's connection
    is the same one and takes its DID's INVITE, which Kamailio may send on
    no other; the second's connection was closed by Kamailio (nua then
    registers again on a new one: a new source port)."""
    with Kamailio(USERS, lifetime=LIFETIME, dids={DID: "gwtrunk", DID2: "gwtrunk2"},
                  flows=True, **kam_args) as kam, \
            Gateway(gw_conf(address(kam), transport=transport.lower(), keepalive=1,
                            sip=gw_sip())) as kept, \
            Gateway(gw_conf(address(kam), user="gwtrunk2", did=DID2,
                            transport=transport.lower(), keepalive=0, sip=gw_sip())) as idle:
        flows = []
        for gw, user in ((kept, "gwtrunk"), (idle, "gwtrunk2")):
            got = (await wait_for(lambda: ours(kam, gw, user), user + "'s Contact"))[0]
            assert got["socket"].startswith(transport.lower() + ":"), got
            assert "transport=%s" % transport.lower() in got["uri"], got
            flows.append(await wait_for(lambda: flow(kam, gw, user), user + "'s flow"))
        await asyncio.sleep(IDLE_WAIT)
        assert flow(kam, kept, "gwtrunk") == flows[0], (flows, kam.tcp_connections())
        ids = [c["id"] for c in kam.tcp_connections()]
        assert flows[1][0] not in ids, (flows, kam.tcp_connections())
        await ring_over_flow(kam, kept, DID)
        assert flow(kam, kept, "gwtrunk") == flows[0], (flows, kam.tcp_connections())


async def test_tcp_flow_crlf_keepalive():
    await flow_kept("TCP", {"tcp": True}, lambda k: "sip:127.0.0.1:%d" % k.port)


async def test_tls_unverified_registrar_refused():
    """tls_verify: a registrar whose certificate the tls_ca did not sign
    gets no REGISTER (a verified one challenged ours within a second). The
    state stays "registering": Sofia drops the connection without telling
    the transaction, so "failed" (408) comes only after its 32 s timer."""
    p = pki()
    d = os.path.dirname(p["ca"])
    with Kamailio(USERS, tls=(os.path.join(d, "rogue.pem"), os.path.join(d, "rogue.key"))) \
            as kam, Gateway(gw_conf("sip:127.0.0.1:%d" % kam.tls_port, transport="tls",
                                    sip=tls_conf(p) % free_port())) as gw:
        await asyncio.sleep(3)
        info = await trunk_info(gw)
        assert info["registration"]["state"] in ("registering", "failed"), info
        assert registered_metric(gw) == 0
        assert not kam.contacts("gwtrunk")
        assert "REGISTER challenged" not in kam.read_log(), kam.read_log()[-1500:]


async def test_tls_registration_takes_calls():
    """An account's registration over TLS (here, not in test_register.py:
    the ASan gateway runs that file, and Sofia-SIP 1.12 never frees a TLS
    connection's OpenSSL state, which LeakSanitizer cannot tell from ours):
    transport = tls, the REGISTER goes over TLS (Tandem verifying Kamailio's
    certificate against tls_ca), Kamailio binds a ;transport=tls Contact on
    a tls: socket, and bob's INVITE reaches the browser over it."""
    p = pki()
    d = os.path.dirname(p["ca"])
    with Kamailio(ACCOUNT_USERS, tls=(os.path.join(d, "peer.pem"), os.path.join(d, "peer.key"))) \
            as kam, \
            Gateway(account_conf(kam, transport="tls", extra=tls_conf(p) % free_port())
                    .replace("alice.registrar = %s\n" % kam.uri,
                             "alice.registrar = sip:127.0.0.1:%d\n" % kam.tls_port)) as gw:
        c = await connect(gw)
        n = await register(c)
        assert n["state"] == "registered" and n["code"] == 200, n
        contact = (await wait_for(lambda: [x for x in kam.contacts("alice")
                                           if "sip:tnd" in x["uri"]], "Contact"))[0]
        assert "transport=tls" in contact["uri"], contact
        assert contact["socket"].startswith("tls:"), contact
        await bob_calls_alice(kam, c)


async def test_tls_registration_and_flow():
    p = pki()
    d = os.path.dirname(p["ca"])
    tls = tls_conf(p)
    await flow_kept("TLS", {"tls": (os.path.join(d, "peer.pem"), os.path.join(d, "peer.key"))},
                    lambda k: "sip:127.0.0.1:%d" % k.tls_port,
                    gw_sip=lambda: tls % free_port())


if __name__ == "__main__":
    tap_main([
        test_trunk_registers_refreshes_and_takes_calls,
        test_wrong_password_reported,
        test_tcp_flow_crlf_keepalive,
        test_tls_registration_and_flow, test_tls_registration_takes_calls,
        test_tls_unverified_registrar_refused,
    ])
