"""Digest on every request the gateway sends (issue 11 items 1 and 10),
with MD5 and with SHA-256 (RFC 8760), against Kamailio 5.6 as the proxy
of alice's account and baresip as bob behind it. Kamailio
challenges alice's INVITEs for the realm 127.0.0.1 and every request she
sends inside a dialog (re-INVITE, REFER, MESSAGE, INFO, BYE) for another
realm, dlg.test (kamailio.py DIALOG_AUTH), so each kind of request meets a
challenge of its own. Asserts on what the peers saw: Kamailio's own xlog
lines (a request challenged, a request authorised), baresip's 200 to the
hold re-INVITE, its 2xx to MESSAGE and INFO (the browser's `{}`), its 202
to the REFER, and its CALL_CLOSED for our BYE.

- A second call's INVITE and every request after the first in-dialog
  challenge carry credentials computed from the cached challenges
  (pre-emptive): Kamailio challenges the INVITE once in two calls and each
  realm once.
- A wrong dialog password: the hold is refused 407, the MESSAGE fails 407,
  a second hold gets a clear result (403 at once with MD5, the SIP stack
  holding the refused re-INVITE; 407 again with SHA-256), the hangup ends
  the call (`call.state` ended) and nothing is left.
- A hold refused for good (MD5, wrong dialog password, Kamailio asking
  only re-INVITEs for it and checking Proxy-Require as RFC 3261 16.3
  says) does not block the dialog: a second hold is sent (Kamailio
  challenges it too: 4 challenges in all) and refused with its own
  `call.state` 407, and our BYE still reaches baresip (CALL_CLOSED).
  Without that check (the wrong-dialog-password tests) the next hold
  fails at once with 403.
- SHA-256, nothing cached for the dialog's realm, the hangup's BYE the
  first request in the dialog: Sofia ends the session at its 407, and the
  gateway sends the BYE again with credentials: Kamailio challenged one BYE
  and authorised one, and baresip's call closed.
- `message` outside a call with `account` (Kamailio challenges MESSAGE,
  kamailio.py MESSAGE_AUTH): alice's reaches baresip, which prints its
  text, and the browser gets {}; her second MESSAGE carries credentials
  from the cached challenge (Kamailio challenged once, authorised twice);
  carol's account, whose password Kamailio does not share, fails with the
  407 and Kamailio authorised none of hers."""

import asyncio

from aiortc import RTCSessionDescription

from aiortc_peer import offering_pc
from kamailio import Kamailio
from peers import Baresip
from tandem_harness import Gateway, tap_main
from test_info_message import baresip_with_console, console_until
from test_register import USERS, connect, counters_zero, gw_conf


async def place(c, kam, b):
    pc, _ = await offering_pc("PCMU")
    r = await c.call("call", {"to": b.uri, "account": "alice",
                              "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(r["call"], "answered", timeout=15)
    assert st["code"] == 200, st
    b.wait_event("CALL_ESTABLISHED")
    return r["call"], pc


def bob(kam):
    b = Baresip("bob", codecs="pcmu")
    b.start()
    return b


async def every_request(alg):
    with Kamailio(USERS, algorithm=alg, dialog_users={"alice": "secret"},
                  relay_direct=True) as kam, \
            Gateway(gw_conf(kam, proxy=kam.uri)) as gw:
        c = await connect(gw)
        b = bob(kam)
        try:
            call, pc = await place(c, kam, b)
            assert await c.call("hold", {"call": call}) == {}
            st = await c.wait_state(call, "held", timeout=10)
            assert st["code"] == 200, st
            assert await c.call("message", {"call": call, "body": "auth note 7"}) == {}
            assert await c.call("info", {"call": call, "content_type":
                                         "application/dtmf-relay",
                                         "body": "Signal=5\r\nDuration=160\r\n"}) == {}
            # bob accepts the REFER (202); what he does next (his INVITE to
            # "gone" gets 480) is his business: we hang up
            assert await c.call("transfer", {"call": call, "to": "sip:gone@%s" %
                                             kam.hostport}) == {}
            st = await c.wait_note(lambda m: m["method"] == "call.state" and
                                   m["params"]["call"] == call and
                                   m["params"].get("code") == 202, timeout=10)
            await c.request("hangup", {"call": call})
            await c.wait_state(call, "ended")
            await pc.close()
            # the next call: no 407 for its INVITE nor its BYE
            b.events.clear()
            call, pc = await place(c, kam, b)
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended")
            b.wait_event("CALL_CLOSED")       # our BYE passed Kamailio's check
            await pc.close()
            await counters_zero(c)
        finally:
            b.stop()
        await c.close()
        log = kam.read_log()
        seen = {k: log.count(k) for k in (
            "INVITE challenged: sip:alice@", "INVITE authorised: sip:alice@",
            "INVITE challenged in dialog", "INVITE authorised in dialog",
            "MESSAGE authorised in dialog", "INFO authorised in dialog",
            "REFER authorised in dialog", "BYE authorised in dialog", "challenged in dialog")}
        want = {"INVITE challenged: sip:alice@": 1, "INVITE authorised: sip:alice@": 2,
                "INVITE challenged in dialog": 1, "INVITE authorised in dialog": 1,
                "MESSAGE authorised in dialog": 1, "INFO authorised in dialog": 1,
                "REFER authorised in dialog": 1, "challenged in dialog": 1}
        byes = seen.pop("BYE authorised in dialog")
        # the first call's BYE may cross bob's own after the transfer
        assert seen == want and byes in (1, 2), (alg, seen, byes)


async def test_md5_every_request():
    await every_request(None)


async def test_sha256_every_request():
    await every_request("SHA-256")


async def wrong_dialog_password(alg):
    with Kamailio(USERS, algorithm=alg, dialog_users={"alice": "not-hers"},
                  relay_direct=True) as kam, \
            Gateway(gw_conf(kam, proxy=kam.uri)) as gw:
        c = await connect(gw)
        b = bob(kam)
        try:
            call, pc = await place(c, kam, b)
            assert await c.call("hold", {"call": call}) == {}
            st = await c.wait_note(lambda m: m["method"] == "call.state" and
                                   m["params"]["call"] == call and
                                   m["params"].get("code") == 407, timeout=10)
            m = await c.request("message", {"call": call, "body": "x"})
            assert m.get("error", {}).get("data", {}).get("sip_status") == 407, m
            # a second hold: a clear result, never silence. With MD5 this
            # Kamailio (no Proxy-Require check) keeps the refused re-INVITE
            # waiting in the SIP stack: 403 at once, or, had it raced the
            # end of that attempt, the 407 as for SHA-256
            m = await c.request("hold", {"call": call})
            if "error" in m:
                assert alg is None and m["error"]["code"] == 403, m
            else:
                await c.wait_note(lambda m: m["method"] == "call.state" and
                                  m["params"]["call"] == call and
                                  m["params"].get("code") == 407, timeout=10)
            await c.call("hangup", {"call": call})
            st = await c.wait_state(call, "ended", timeout=15)
            await pc.close()
            await counters_zero(c)
        finally:
            b.stop()
        await c.close()
        log = kam.read_log()
        assert "authorised in dialog" not in log, log[-2000:]
        assert log.count("INVITE challenged in dialog") >= 2, log[-2000:]


async def test_md5_wrong_dialog_password():
    await wrong_dialog_password(None)


async def test_sha256_wrong_dialog_password():
    await wrong_dialog_password("SHA-256")


async def test_md5_refused_hold_then_hold():
    with Kamailio(USERS, dialog_users={"alice": "not-hers"}, dialog_methods="INVITE",
                  relay_direct=True, proxy_require=True) as kam, \
            Gateway(gw_conf(kam, proxy=kam.uri)) as gw:
        c = await connect(gw)
        b = bob(kam)
        try:
            call, pc = await place(c, kam, b)
            for _ in (1, 2):
                assert await c.call("hold", {"call": call}) == {}
                await c.wait_note(lambda m: m["method"] == "call.state" and
                                  m["params"]["call"] == call and
                                  m["params"].get("code") == 407, timeout=10)
            b.events.clear()
            await c.call("hangup", {"call": call})
            st = await c.wait_state(call, "ended", timeout=15)
            assert st["code"] == 200, st
            b.wait_event("CALL_CLOSED")
            await pc.close()
            await counters_zero(c)
        finally:
            b.stop()
        await c.close()
        log = kam.read_log()
        assert "authorised in dialog" not in log, log[-2000:]
        assert log.count("INVITE challenged in dialog") == 4, log[-3000:]


async def test_sha256_bye_first_in_dialog():
    with Kamailio(USERS, algorithm="SHA-256", dialog_users={"alice": "secret"},
                  relay_direct=True) as kam, \
            Gateway(gw_conf(kam, proxy=kam.uri)) as gw:
        c = await connect(gw)
        b = bob(kam)
        try:
            call, pc = await place(c, kam, b)
            b.events.clear()
            await c.call("hangup", {"call": call})
            await c.wait_state(call, "ended", timeout=15)
            b.wait_event("CALL_CLOSED")
            await pc.close()
            await counters_zero(c)
        finally:
            b.stop()
        await c.close()
        log = kam.read_log()
        assert log.count("BYE challenged in dialog") == 1, log[-3000:]
        assert log.count("BYE authorised in dialog") == 1, log[-3000:]


async def message_as_account(alg):
    # carol's account has no proxy of its own: the gateway's outbound proxy
    users = dict(USERS, carol="not-carolpw")
    with Kamailio(users, algorithm=alg, message_auth=True, relay_direct=True) as kam, \
            Gateway(gw_conf(kam, proxy=kam.uri,
                            extra="outbound_proxy = %s\n" % kam.uri)) as gw:
        c = await connect(gw)
        b, cons = baresip_with_console()
        try:
            for n in (1, 2):
                body = "as alice %s %d" % (alg or "MD5", n)
                assert await c.call("message", {"to": b.uri, "account": "alice",
                                                "body": body}) == {}
                await asyncio.to_thread(console_until, cons,
                                        'sip:alice@127.0.0.1: "%s"' % body)
            m = await c.request("message", {"to": b.uri, "account": "carol", "body": "x"})
            err = m.get("error", {})
            assert err.get("code") == 407 and err["data"]["sip_status"] == 407, m
            await counters_zero(c)
        finally:
            b.stop()
            cons.close()
        await c.close()
        log = kam.read_log()
        seen = {k: log.count(k) for k in (
            "MESSAGE challenged: sip:alice@", "MESSAGE authorised: sip:alice@",
            "MESSAGE challenged: sip:carol@", "MESSAGE authorised: sip:carol@")}
        assert seen == {"MESSAGE challenged: sip:alice@": 1,
                        "MESSAGE authorised: sip:alice@": 2,
                        "MESSAGE challenged: sip:carol@": 2,
                        "MESSAGE authorised: sip:carol@": 0}, (alg, seen)


async def test_md5_message_as_account():
    await message_as_account(None)


async def test_sha256_message_as_account():
    await message_as_account("SHA-256")


if __name__ == "__main__":
    tap_main([test_md5_every_request, test_sha256_every_request,
              test_md5_wrong_dialog_password, test_sha256_wrong_dialog_password,
              test_md5_refused_hold_then_hold, test_sha256_bye_first_in_dialog,
              test_md5_message_as_account, test_sha256_message_as_account])
