"""Registration and digest auth against Kamailio (issue 11 items 1, 8, 9):
Kamailio is the registrar (db_text subscribers, 401 for REGISTER, 407 for
INVITE) and proxy; aiortc is the browser, baresip the SIP phone. Each test
asserts on what the other side saw: Kamailio's location table (kamcmd
ul.dump: our Contact, its CSeq), the `registration` and call.state
notifications with their SIP codes, the SIP status a raw INVITE got, the
tones each side recorded (1 kHz from the browser, 440 Hz from baresip), and
the gateway's counters back at zero. Loopback is not trusted in these
gateways ([sip] trusted names another address), so Kamailio's INVITEs
reach the browser only through the registration's trust."""

import asyncio
import hashlib
import os
import socket
import time

import websockets

from aiortc import RTCSessionDescription

from aiortc_peer import Client, Recorder, ToneTrack, new_pc, offering_pc
from kamailio import Kamailio
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, free_port, tap_main

MEDIA_SECONDS = 4.5
USERS = {"alice": "secret", "bob": "bobpw", "carol": "carolpw", "dave": "davepw",
         "erin": "erinpw"}


def tls_conf(p):
    """[sip] lines for TLS with the test PKI; tls_port left as %d."""
    # no "cert =" with spaces: Gateway would take it for [websocket] (wss)
    return "tls = true\ntls_port = %%d\ntls_cert=%s\ntls_key = %s\ntls_ca = %s\n" \
        "tls_verify = true\n" % (p["gw"], p["gw_key"], p["ca"])


def gw_conf(kam, password="secret", expires=60, extra="", grace=1, transport="udp",
            proxy=""):
    # dave's secret is given as HA1 = MD5(dave:127.0.0.1:davepw), Kamailio's
    # realm being the From domain
    return ("[sip]\ntrusted = 192.0.2.1\nregister_retry_max = 4\nregister_grace = %d\n%s"
            "[accounts]\nalice.uri = sip:alice@127.0.0.1\nalice.registrar = %s\n"
            "alice.password = %s\nalice.expires = %d\nalice.users = alice\n"
            "alice.transport = %s\nalice.proxy = %s\n"
            "carol.uri = sip:carol@127.0.0.1\ncarol.registrar = %s\n"
            "carol.password = carolpw\ncarol.users = carol, alice\n"
            "dave.uri = sip:dave@127.0.0.1\ndave.registrar = %s\ndave.ha1 = %s\n"
            "dave.users = dave\n" % (
                grace, extra, kam.uri, password, expires, transport, proxy, kam.uri,
                kam.uri,
                hashlib.md5(b"dave:127.0.0.1:davepw").hexdigest()))


async def connect(gw, user="alice"):
    ws = await websockets.connect(gw.url, subprotocols=["tandem.v1"], max_size=2 ** 22)
    c = Client(ws)
    await c.call("login", {"user": user})
    return c


def reg_note(state=None, reg="alice"):
    def pred(m):
        return m["method"] == "registration" and m["params"]["registration"] == reg and \
            (state is None or m["params"]["state"] == state)
    return pred


async def counters_zero(c, timeout=5, registrations=None):
    deadline = time.monotonic() + timeout
    while True:
        s = (await c.call("stats"))["calls"]
        if all(s[k] == 0 for k in ("calls", "sip_dialogs", "bridges", "media_legs",
                                   "media_ports")) and \
                (registrations is None or s["registrations"] == registrations):
            return s
        if time.monotonic() > deadline:
            raise AssertionError("resources left behind: %s" % s)
        await asyncio.sleep(0.1)


async def wait_for(fn, what, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.1)


def our_contacts(kam, gw, user="alice"):
    return [c for c in kam.contacts(user) if ":%d" % gw.sip_port in c["uri"]
            and "sip:tnd" in c["uri"]]


async def register(c, account="alice"):
    r = await c.call("register", {"account": account})
    assert r["registration"] == account, r
    return (await c.wait_note(reg_note(reg=account), timeout=15))["params"]


async def test_right_password_registers():
    """401 answered with the account's password: Kamailio's location table
    holds our Contact; unregister removes it (and the notification says so)."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw)
        n = await register(c)
        assert n["state"] == "registered" and n["code"] == 200, n
        assert 5 <= n["expires"] <= 60, n
        got = await wait_for(lambda: our_contacts(kam, gw), "our Contact at Kamailio")
        assert len(got) == 1, got
        assert "REGISTER challenged: sip:alice@127.0.0.1" in kam.read_log()
        # a second socket of the same user joins the registration
        c2 = await connect(gw)
        r = await c2.call("register", {"account": "alice"})
        assert r == {"registration": "alice", "state": "registered"}, r
        assert (await c.call("stats"))["calls"]["registrations"] == 1
        await c.call("unregister", {"registration": "alice"})
        n = (await c.wait_note(reg_note("unregistered")))["params"]
        assert n["code"] == 200, n
        await c2.wait_note(reg_note("unregistered"))
        await wait_for(lambda: not our_contacts(kam, gw), "our Contact gone from Kamailio")
        await counters_zero(c, registrations=0)
        await c.close()
        await c2.close()


async def test_ha1_registers_and_sigterm_unregisters():
    """An account configured with HA1 instead of a password registers (Sofia
    takes it as "HA1+hex"); SIGTERM removes the binding at Kamailio even
    though the grace time (60 s) has not run out."""
    with Kamailio(USERS) as kam:
        gw = Gateway(gw_conf(kam, grace=60)).start()
        try:
            c = await connect(gw, "dave")
            n = await register(c, "dave")
            assert n["state"] == "registered" and n["code"] == 200, n
            await wait_for(lambda: our_contacts(kam, gw, "dave"), "dave's Contact")
            assert gw.stop() == 0
            await wait_for(lambda: not our_contacts(kam, gw, "dave"),
                           "Contact removed at SIGTERM", 5)
        finally:
            gw.stop()


async def test_wrong_password_fails():
    """A wrong password: Kamailio challenges again, the registration is
    reported failed with its 401 and a retry time, and nothing is bound; a
    call as that account ends with the proxy's second 407. Once the
    registrar takes that password, a retry registers."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam, password="wrong")) as gw:
        c = await connect(gw)
        n = await register(c)
        assert n["state"] == "failed" and n["code"] in (401, 403), n
        assert n["retry_in"] >= 1, n
        assert not our_contacts(kam, gw)
        # the back-off keeps trying (2 s next), and keeps failing
        n2 = (await c.wait_note(reg_note("failed"), timeout=10))["params"]
        assert n2["retry_in"] > n["retry_in"], (n, n2)
        assert not our_contacts(kam, gw)
        # a call as the account: the proxy challenges our answer again, the
        # call ends with that 407 instead of looping
        pc, _ = await offering_pc("PCMU")
        r = await c.call("call", {"to": "sip:bob@%s" % kam.hostport, "account": "alice",
                                  "sdp": pc.localDescription.sdp})
        st = await c.wait_state(r["call"], "ended", timeout=10)
        assert st["code"] == 407, st
        assert kam.read_log().count("INVITE authorised") == 0
        await pc.close()
        await counters_zero(c)
        # the registrar's password becomes "wrong" too (Kamailio restarted
        # on the same port to read its table): a later retry answers its
        # challenge afresh and the binding comes
        kam.set_password("alice", "wrong")
        kam.stop()
        kam.start()
        n = (await c.wait_note(reg_note("registered"), timeout=15))["params"]
        assert n["code"] == 200, n
        await wait_for(lambda: our_contacts(kam, gw), "Contact after the fix")
        await c.close()


async def test_rights_and_bad_requests():
    """A user may register only accounts the config gives them; unknown
    accounts and inline registration (off by default) are refused."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw, "mallory")
        r = await c.request("register", {"account": "alice"})
        assert r["error"]["code"] == 401, r
        r = await c.request("register", {"account": "nobody"})
        assert r["error"]["code"] == 404, r
        r = await c.request("register", {"uri": "sip:alice@127.0.0.1", "password": "secret",
                                         "registrar": kam.uri})
        assert r["error"]["code"] == 403, r
        r = await c.request("unregister", {"registration": "alice"})
        assert r["error"]["code"] == 404, r
        await asyncio.sleep(0.5)
        assert not kam.contacts("alice")
        await c.close()


async def test_inline_registration():
    """With [sip] register_inline, a user may bring uri, password and
    registrar; the registration's id is the uri."""
    with Kamailio(USERS) as kam, \
            Gateway(gw_conf(kam, extra="register_inline = true\n")) as gw:
        c = await connect(gw, "bob")
        uri = "sip:bob@127.0.0.1"
        r = await c.call("register", {"uri": uri, "password": "bobpw",
                                      "registrar": kam.uri, "expires": 30})
        assert r["registration"] == uri, r
        n = (await c.wait_note(reg_note(reg=uri)))["params"]
        assert n["state"] == "registered" and n["expires"] == 30, n
        await wait_for(lambda: our_contacts(kam, gw, "bob"), "bob's Contact")
        r = await c.request("register", {"uri": "sip:nohost", "password": "x"})
        assert r["error"]["code"] == 400, r
        await c.call("unregister", {"registration": uri})
        await c.wait_note(reg_note("unregistered", reg=uri))
        await wait_for(lambda: not our_contacts(kam, gw, "bob"), "bob's Contact gone")
        # the secret as HA1 (MD5(erin:realm:erinpw)): Kamailio accepts it
        uri = "sip:erin@127.0.0.1"
        ha1 = hashlib.md5(b"erin:127.0.0.1:erinpw").hexdigest()
        r = await c.call("register", {"uri": uri, "ha1": ha1, "registrar": kam.uri})
        n = (await c.wait_note(reg_note(reg=uri)))["params"]
        assert n["state"] == "registered" and n["code"] == 200, n
        await wait_for(lambda: our_contacts(kam, gw, "erin"), "erin's Contact")
        for bad in ({"ha1": "xyz"}, {"ha1": ha1, "password": "erinpw"}):
            r = await c.request("register", dict(bad, uri="sip:erin2@127.0.0.1"))
            assert r["error"]["code"] == -32602, r
        await c.close()


async def test_refresh_before_expiry():
    """expires 10 (Kamailio's floor is 5): a second REGISTER reaches Kamailio
    before the first expires (its CSeq for our Contact goes up) and the
    binding never lapses. Kamailio's nonces last 3 s, so the refresh's
    cached credentials are stale (auth_check -4, 401 stale=true) and the
    gateway answers the new nonce."""
    with Kamailio(USERS, nonce_expire=3) as kam, \
            Gateway(gw_conf(kam, expires=10)) as gw:
        c = await connect(gw)
        n = await register(c)
        assert n["state"] == "registered" and n["expires"] == 10, n
        first = (await wait_for(lambda: our_contacts(kam, gw), "Contact"))[0]
        t0 = time.monotonic()
        n = (await c.wait_note(reg_note("registered"), timeout=15))["params"]
        assert time.monotonic() - t0 < 10, "refresh came after the binding expired"
        again = await wait_for(lambda: [x for x in our_contacts(kam, gw)
                                        if int(x["cseq"]) > int(first["cseq"])],
                               "a refreshed Contact", 5)
        assert again[0]["uri"] == first["uri"], (first, again)
        stale = "REGISTER challenged: sip:alice@127.0.0.1 from 127.0.0.1:%d rc=-4" % \
            gw.sip_port
        if stale not in kam.read_log():
            # Kamailio took the nonce as fresh this once (its clock is in
            # whole seconds): the next refresh is later still
            n = (await c.wait_note(reg_note(), timeout=15))["params"]
            assert n["state"] == "registered", n
        assert stale in kam.read_log(), kam.read_log()[-2000:]
        await c.close()


async def test_registrar_outage_backoff():
    """Registrar down: failures come with growing retry times (1, 2, 4 s, at
    most register_retry_max); once it is up again the next retry binds."""
    port = free_port(kind=socket.SOCK_DGRAM)
    kam = Kamailio(USERS, port=port)
    try:
        with Gateway(gw_conf(kam)) as gw:
            c = await connect(gw)
            n = await register(c)
            assert n["state"] == "failed", n
            waits = [n["retry_in"]]
            while len(waits) < 3:
                n = (await c.wait_note(reg_note(), timeout=45))["params"]
                assert n["state"] == "failed", n
                waits.append(n["retry_in"])
            assert waits[0] < waits[1] < waits[2] <= 4, waits
            kam.start()
            n = (await c.wait_note(reg_note("registered"), timeout=45))["params"]
            assert n["code"] == 200, n
            await wait_for(lambda: our_contacts(kam, gw), "our Contact at Kamailio")
            await c.close()
    finally:
        kam.cleanup()


async def test_grace_after_websocket_loss():
    """The last WebSocket of the user closes: the binding stays for
    register_grace (1 s here), then is removed from Kamailio."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw)
        assert (await register(c))["state"] == "registered"
        await wait_for(lambda: our_contacts(kam, gw), "Contact")
        await c.close()
        await asyncio.sleep(0.3)
        assert our_contacts(kam, gw), "removed before the grace time"
        await wait_for(lambda: not our_contacts(kam, gw), "Contact removed", 10)
        c = await connect(gw, "bob")
        await counters_zero(c, registrations=0)
        await c.close()


async def test_grace_after_logout():
    """`logout` on a socket that stays open: the binding stays for
    register_grace, then goes from Kamailio; the same user's other socket
    keeps it there."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c, other = await connect(gw), await connect(gw)
        assert (await register(c))["state"] == "registered"
        await wait_for(lambda: our_contacts(kam, gw), "Contact")
        # alice is still logged in on `other`: the binding stays
        assert await c.call("logout", {}) == {}
        await asyncio.sleep(2.5)
        assert our_contacts(kam, gw), "removed while another socket of alice is open"
        # now her last socket logs out, and stays open
        assert await other.call("logout", {}) == {}
        await asyncio.sleep(0.3)
        assert our_contacts(kam, gw), "removed before the grace time"
        await wait_for(lambda: not our_contacts(kam, gw), "Contact removed", 10)
        await c.close()
        await other.close()


def raw_invite(gw_port, ruri, src_port):
    """Sends one INVITE from 127.0.0.1:src_port; returns the final status."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", src_port))
    s.settimeout(5)
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    msg = ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%d\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:eve@127.0.0.1>;tag=1\r\nTo: <%s>\r\n"
           "Call-ID: relay%d@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
           "Contact: <sip:eve@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\n"
           "Content-Length: %d\r\n\r\n%s" % (ruri, src_port, time.monotonic_ns(), ruri,
                                             time.monotonic_ns(), src_port, len(sdp), sdp))
    s.sendto(msg.encode(), ("127.0.0.1", gw_port))
    try:
        while True:
            data = s.recv(65536).decode(errors="replace")
            code = int(data.split(" ", 2)[1])
            if code >= 200:
                return code
    finally:
        s.close()


async def answer_incoming(c, b):
    inc = (await c.wait_note(lambda m: m["method"] == "incoming", timeout=15))["params"]
    pc = new_pc()
    rec = Recorder()
    pc.on("track", lambda t: rec.start(t))
    await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
    pc.addTrack(ToneTrack(1000))
    await pc.setLocalDescription(await pc.createAnswer())
    await c.call("answer", {"call": inc["call"], "sdp": pc.localDescription.sdp})
    await c.wait_state(inc["call"], "answered")
    b.wait_event("CALL_ESTABLISHED")
    return inc, pc, rec


async def test_baresip_calls_registered_account():
    """baresip (registered at Kamailio as bob) calls alice's AOR at Kamailio;
    Kamailio sends the INVITE to the Contact Tandem registered, every
    WebSocket of alice rings, the first answer wins, tones both ways. A raw
    INVITE to the same Contact from another port (not the registrar) gets
    403: no open relay."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw)
        c2 = await connect(gw)
        assert (await register(c))["state"] == "registered"
        contact = (await wait_for(lambda: our_contacts(kam, gw), "Contact"))[0]["uri"]
        b = Baresip("bob", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                    codecs="pcmu", register=(kam.hostport, "bobpw"))
        b.start()
        try:
            await wait_for(lambda: kam.contacts("bob"), "baresip registered", 15)
            b.dial("sip:alice@%s" % kam.hostport)
            inc2 = (await c2.wait_note(lambda m: m["method"] == "incoming"))["params"]
            inc, pc, rec = await answer_incoming(c, b)
            assert inc2["call"] == inc["call"], (inc, inc2)
            assert "sip:bob@" in inc["from"], inc
            st = await c2.wait_state(inc["call"], "ended")
            assert st["reason"] == "answered elsewhere", st
            await asyncio.sleep(MEDIA_SECONDS)
            user = contact.split(":")[1].split("@")[0]
            code = raw_invite(gw.sip_port, "sip:%s@127.0.0.1:%d" % (user, gw.sip_port),
                              free_port(kind=socket.SOCK_DGRAM))
            assert code == 403, code
            b.hangup()
            await c.wait_state(inc["call"], "ended")
            rec.stop()
            await pc.close()
        finally:
            b.stop()
        x, rate = rec.samples()
        assert_tone(x, rate, 440, 3, "aiortc received")
        x, rate = b.received()
        assert_tone(x, rate, 1000, 3, "baresip received")
        await counters_zero(c)
        await c.close()
        await c2.close()


async def bob_calls_alice(kam, c):
    """baresip, registered at Kamailio as bob, calls alice's AOR there; the
    browser (c) answers; bob hangs up. Then c's counters are zero and c is
    closed."""
    b = Baresip("bob", codecs="pcmu", register=(kam.hostport, "bobpw"))
    b.start()
    try:
        await wait_for(lambda: kam.contacts("bob"), "baresip registered", 15)
        b.dial("sip:alice@%s" % kam.hostport)
        inc, pc, rec = await answer_incoming(c, b)
        assert "sip:bob@" in inc["from"], inc
        b.hangup()
        await c.wait_state(inc["call"], "ended")
        rec.stop()
        await pc.close()
    finally:
        b.stop()
    await counters_zero(c)
    await c.close()


async def test_tcp_registration_takes_calls():
    """transport = tcp: the REGISTER goes over TCP, Kamailio binds a
    ;transport=tcp Contact and sends bob's INVITE over TCP; the registrar's
    address is trusted for it whatever its source port, and the browser
    answers."""
    with Kamailio(USERS, tcp=True) as kam, Gateway(gw_conf(kam, transport="tcp")) as gw:
        c = await connect(gw)
        assert (await register(c))["state"] == "registered"
        contact = (await wait_for(lambda: our_contacts(kam, gw), "Contact"))[0]
        assert "transport=tcp" in contact["uri"], contact
        assert contact["socket"].startswith("tcp:"), contact
        await bob_calls_alice(kam, c)


async def test_two_accounts_two_calls():
    """One user, two accounts (alice and carol), three calls at once: erin
    calls carol's AOR, bob calls alice's, then dave calls alice's while bob's
    call is up (an agent on a call gets a second on the same account), all
    through Kamailio; each rings alice's socket, is answered and carries the
    browser's tone to its phone."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw)
        assert (await register(c, "alice"))["state"] == "registered"
        assert (await register(c, "carol"))["state"] == "registered"
        assert (await c.call("stats"))["calls"]["registrations"] == 2
        phones = [Baresip(u, source_wav=os.path.join(tones(), "tone440_48k.wav"),
                          codecs="pcmu", register=(kam.hostport, USERS[u]))
                  for u in ("erin", "bob", "dave")]
        pcs = []
        try:
            for p in phones:
                p.start()
            for u in ("erin", "bob", "dave"):
                await wait_for(lambda: kam.contacts(u), u + " registered", 15)
            phones[0].dial("sip:carol@%s" % kam.hostport)
            inc1, pc1, _ = await answer_incoming(c, phones[0])
            assert "sip:erin@" in inc1["from"] and "carol@" in inc1["to"], inc1
            phones[1].dial("sip:alice@%s" % kam.hostport)
            inc2, pc2, _ = await answer_incoming(c, phones[1])
            assert "sip:bob@" in inc2["from"] and "alice@" in inc2["to"], inc2
            phones[2].dial("sip:alice@%s" % kam.hostport)
            inc3, pc3, _ = await answer_incoming(c, phones[2])
            assert "sip:dave@" in inc3["from"] and "alice@" in inc3["to"], inc3
            pcs = [pc1, pc2, pc3]
            assert (await c.call("stats"))["calls"]["calls"] == 3
            await asyncio.sleep(MEDIA_SECONDS)
            for p, inc in zip(phones, (inc1, inc2, inc3)):
                p.hangup()
                await c.wait_state(inc["call"], "ended")
        finally:
            for pc in pcs:
                await pc.close()
            for p in phones:
                p.stop()
        for p in phones:
            x, rate = p.received()
            assert_tone(x, rate, 1000, 3, "%s received" % p.user)
        await counters_zero(c)
        await c.close()


async def test_browser_calls_baresip_with_digest():
    """alice calls bob as her account, whose proxy is Kamailio: the INVITE
    to sip:bob@127.0.0.1 (port 5060, where nothing listens) goes to the
    proxy, Kamailio answers 407, Tandem answers the challenge with the
    account's password, Kamailio relays to baresip, tones both ways;
    alice's BYE must pass Kamailio's digest check too."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam, proxy=kam.uri)) as gw:
        b = Baresip("bob", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                    codecs="pcmu", register=(kam.hostport, "bobpw"))
        b.start()
        try:
            await wait_for(lambda: kam.contacts("bob"), "baresip registered", 15)
            c = await connect(gw)
            pc, rec = await offering_pc("PCMU", record=True)
            r = await c.call("call", {"to": "sip:bob@127.0.0.1", "account": "alice",
                                      "sdp": pc.localDescription.sdp})
            await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
            st = await c.wait_state(r["call"], ("answered", "ended"), timeout=15)
            assert st["state"] == "answered" and st["code"] == 200, st
            assert "INVITE authorised: sip:alice@127.0.0.1" in kam.read_log()
            b.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(MEDIA_SECONDS)
            await c.call("hangup", {"call": r["call"]})
            await c.wait_state(r["call"], "ended")
            # our BYE passed Kamailio's digest check for alice's BYEs
            b.wait_event("CALL_CLOSED")
            assert "BYE authorised: sip:alice@127.0.0.1" in kam.read_log()
            rec.stop()
            await pc.close()
        finally:
            b.stop()
        x, rate = rec.samples()
        assert_tone(x, rate, 440, 3, "aiortc received")
        x, rate = b.received()
        assert_tone(x, rate, 1000, 3, "baresip received")
        await counters_zero(c)
        await c.close()


async def test_challenge_without_credentials_ends_call():
    """A 401 (and a 407) to an INVITE placed without an account: the call
    ends with that code at once and every resource is freed (before, it
    stayed stuck with no call.state). Another user's account is refused."""
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw)
        for to, code in (("sip:www401@%s" % kam.hostport, 401),
                         ("sip:bob@%s" % kam.hostport, 407)):
            pc, _ = await offering_pc("PCMU")
            r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
            st = await c.wait_state(r["call"], "ended", timeout=10)
            assert st["code"] == code, st
            await pc.close()
            await counters_zero(c)
        pc, _ = await offering_pc("PCMU")
        r = await c.request("call", {"to": "sip:bob@%s" % kam.hostport, "account": "dave",
                                     "sdp": pc.localDescription.sdp})
        assert r["error"]["code"] == 401, r
        await pc.close()
        await counters_zero(c)
        await c.close()


if __name__ == "__main__":
    tap_main([
        test_right_password_registers,
        test_ha1_registers_and_sigterm_unregisters,
        test_wrong_password_fails,
        test_rights_and_bad_requests,
        test_inline_registration,
        test_refresh_before_expiry,
        test_registrar_outage_backoff,
        test_grace_after_websocket_loss, test_grace_after_logout,
        test_baresip_calls_registered_account,
        test_tcp_registration_takes_calls,
        test_two_accounts_two_calls,
        test_browser_calls_baresip_with_digest,
        test_challenge_without_credentials_ends_call,
    ])
