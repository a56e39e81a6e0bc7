"""Digest SHA-256 (RFC 8760, issue 11 item 1) against Kamailio 5.6 whose
auth module challenges with algorithm=SHA-256 only: Sofia-SIP's client
digest is MD5-only, so the gateway answers with credentials it computes
itself (sip/digest.c). Asserts on what Kamailio saw and kept: its location
table holds our Contact after the right password, and a wrong password gets
the `registration` failed notification with 401 and no Contact; the
un-REGISTER (answered with SHA-256 again) removes the Contact. An INVITE
through Kamailio as a proxy passes its SHA-256 digest check too."""

import asyncio

from aiortc_peer import offering_pc
from kamailio import Kamailio
from tandem_harness import Gateway, tap_main
from test_register import (USERS, connect, counters_zero, gw_conf, our_contacts, register,
                           reg_note, wait_for)


async def test_sha256_right_password_registers():
    with Kamailio(USERS, algorithm="SHA-256") as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw)
        n = await register(c)
        assert n["state"] == "registered" and n["code"] == 200, n
        got = await wait_for(lambda: our_contacts(kam, gw), "our Contact at Kamailio")
        assert len(got) == 1, got
        log = kam.read_log()
        assert "REGISTER challenged: sip:alice@127.0.0.1" in log, log[-2000:]
        await c.call("unregister", {"registration": "alice"})
        n = (await c.wait_note(reg_note("unregistered")))["params"]
        assert n["code"] == 200, n
        await wait_for(lambda: not our_contacts(kam, gw), "our Contact gone from Kamailio")
        await counters_zero(c, registrations=0)
        await c.close()


async def test_sha256_wrong_password_fails():
    with Kamailio(USERS, algorithm="SHA-256") as kam, \
            Gateway(gw_conf(kam, password="wrong")) as gw:
        c = await connect(gw)
        n = await register(c)
        assert n["state"] == "failed" and n["code"] == 401, n
        await asyncio.sleep(0.5)
        assert not our_contacts(kam, gw)
        await c.call("unregister", {"registration": "alice"})
        await c.close()


async def test_sha256_invite_through_proxy():
    """alice calls as her account through Kamailio, which answers the INVITE
    407 with a SHA-256 challenge: our INVITE sent again with
    Proxy-Authorization passes Kamailio's digest check ("INVITE authorised"
    in its log), and the call ends with Kamailio's 404 for a callee nobody
    registered, not with the 407. With a wrong password it ends 407."""
    with Kamailio(USERS, algorithm="SHA-256") as kam:
        for password, code in (("secret", 404), ("wrong", 407)):
            with Gateway(gw_conf(kam, password=password, proxy=kam.uri)) as gw:
                c = await connect(gw)
                pc, _ = await offering_pc("PCMU")
                try:
                    r = await c.call("call", {"to": "sip:nobody@127.0.0.1",
                                              "account": "alice",
                                              "sdp": pc.localDescription.sdp})
                    st = await c.wait_state(r["call"], "ended", timeout=15)
                finally:
                    await pc.close()
                assert st["code"] == code, (password, st)
                await counters_zero(c)
                await c.close()
        assert kam.read_log().count("INVITE authorised: sip:alice@127.0.0.1") == 1


if __name__ == "__main__":
    tap_main([test_sha256_right_password_registers, test_sha256_wrong_password_fails,
              test_sha256_invite_through_proxy])
