#!/usr/bin/python3
"""Registrations seen by operators (issue 13 items 3 and 5): Kamailio is the
registrar (tests/integration/kamailio.py, as in test_register.py), boss is
named in [auth] admins, alice is an ordinary user whose account registers.
admin.registrations lists her registration with the state, status and the
expires Kamailio granted (alice asks for 7200 s, Kamailio's max_expires
caps it at 3600, and our Contact in Kamailio's location table must be the
listed one), then, once her last socket is gone, no socket and the grace
left; alice herself gets 403. A wrong password is listed failed with
Kamailio's 401 (or 403) and reported as a registration.failed event. The
webhook (a real HTTP server here) and boss's subscribed WebSocket receive
registration.registered then registration.unregistered for alice, in order,
numbered in the gateway's one event sequence right after the subscription;
a registration whose user stays away past the grace time ends with
registration.unregistered too."""

import asyncio

from kamailio import Kamailio
from ops import Receiver
from tandem_harness import Gateway, error_code, tap_main
from test_register import USERS, connect, gw_conf, our_contacts, reg_note, register, \
    wait_for

ASKED = 7200      # alice.expires; above Kamailio's max_expires (3600)
GRANTED = 3600


def conf(kam, password="secret", hook=None, grace=30):
    extra = "[auth]\nadmins = boss\n"
    if hook:
        extra += "[events]\nwebhook = %s\nretries = 5\n" % hook
    return gw_conf(kam, password=password, expires=ASKED, extra=extra, grace=grace)


async def listed(boss):
    return (await boss.call("admin.registrations"))["registrations"]


def of_reg(events):
    return [e for e in events if e["event"].startswith("registration.")]


async def test_admin_lists_registration():
    with Kamailio(USERS) as kam, Gateway(conf(kam)) as gw:
        boss = await connect(gw, "boss")
        assert await listed(boss) == []
        alice = await connect(gw)
        n = await register(alice)
        assert n["state"] == "registered" and n["code"] == 200, n
        assert n["expires"] == GRANTED, n
        regs = await listed(boss)
        assert len(regs) == 1, regs
        r = regs[0]
        assert (r["registration"], r["user"], r["aor"], r["registrar"]) == \
            ("alice", "alice", "sip:alice@127.0.0.1", kam.uri), r
        assert (r["state"], r["code"], r["expires"]) == ("registered", 200, GRANTED), r
        assert r["reason"] and r["retry_in"] == 0 and r["changed"].endswith("Z"), r
        assert r["sockets"] == 1 and r["grace_left"] is None, r
        # the Contact listed is the one Kamailio holds, with its expiry
        got = await wait_for(lambda: our_contacts(kam, gw), "our Contact at Kamailio")
        assert len(got) == 1 and "sip:%s@" % r["contact"] in got[0]["uri"], (r, got)
        assert GRANTED - 30 <= int(got[0]["expires"]) <= GRANTED, got

        # an ordinary user may not list them, whatever she registered
        m = await alice.request("admin.registrations")
        assert error_code(m) == 403 and "admin" in m["error"]["message"], m
        m = await boss.request("admin.registrations", {"user": "alice"})
        assert error_code(m) == -32602, m

        # her last socket goes: the registration stays for its grace time
        await alice.close()
        r = (await wait_for_list(boss, lambda r: r["sockets"] == 0))[0]
        assert r["state"] == "registered" and 0 < r["grace_left"] <= 30, r
        assert our_contacts(kam, gw)
        await boss.close()


async def wait_for_list(boss, pred, timeout=10):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        regs = await listed(boss)
        if regs and all(pred(r) for r in regs):
            return regs
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("admin.registrations never matched: %s" % regs)
        await asyncio.sleep(0.1)


async def test_wrong_password_listed_failed():
    rx = Receiver()
    try:
        with Kamailio(USERS) as kam, \
                Gateway(conf(kam, password="wrong", hook=rx.url)) as gw:
            boss = await connect(gw, "boss")
            alice = await connect(gw)
            n = await register(alice)
            assert n["state"] == "failed" and n["code"] in (401, 403), n
            r = (await listed(boss))[0]
            assert (r["registration"], r["state"], r["code"]) == \
                ("alice", "failed", n["code"]), r
            assert r["expires"] == 0 and r["retry_in"] >= 1 and r["reason"], r
            assert not our_contacts(kam, gw)
            ev = of_reg(rx.wait(lambda e: of_reg(e)))
            assert [e["event"] for e in ev] == ["registration.failed"], ev
            assert ev[0]["registration"]["code"] == n["code"], ev
            # the retries fail the same way: no new event for them (the
            # unregistered event, sent after, proves none was in between)
            await alice.wait_note(reg_note("failed"), timeout=10)
            await alice.call("unregister", {"registration": "alice"})
            got = of_reg(rx.wait(lambda e: len(of_reg(e)) >= 2))
            assert [e["event"] for e in got] == ["registration.failed",
                                                 "registration.unregistered"], got
            assert got[1]["seq"] == got[0]["seq"] + 1, got
            assert got[1]["registration"]["code"] == 0, got
            await alice.close()
            await boss.close()
    finally:
        rx.close()


async def test_events_registered_then_unregistered():
    rx = Receiver(fail_first=1)
    try:
        with Kamailio(USERS) as kam, Gateway(conf(kam, hook=rx.url)) as gw:
            boss = await connect(gw, "boss")
            sub = await boss.call("events.subscribe")
            alice = await connect(gw)
            n = await register(alice)
            assert n["state"] == "registered", n
            await alice.call("unregister", {"registration": "alice"})
            u = (await alice.wait_note(reg_note("unregistered")))["params"]
            assert u["code"] == 200, u
            await wait_for(lambda: not our_contacts(kam, gw), "our Contact gone")

            names = ["registration.registered", "registration.unregistered"]
            got = rx.wait(lambda e: len(e) >= 2)
            assert [e["event"] for e in got] == names, got
            assert [e["seq"] for e in got] == [sub["seq"] + 1, sub["seq"] + 2], got
            a, b = got[0]["registration"], got[1]["registration"]
            assert (a["registration"], a["user"], a["state"], a["code"], a["expires"]) == \
                ("alice", "alice", "registered", 200, GRANTED), a
            assert (b["registration"], b["state"], b["code"], b["expires"]) == \
                ("alice", "unregistered", 200, 0), b
            assert a["contact"] == b["contact"] and a["contact"].startswith("tnd"), (a, b)
            assert all(e["time"].endswith("Z") for e in got), got
            ws = []
            for _ in names:
                m = await boss.wait_note(lambda m: m["method"] == "event")
                ws.append(m["params"])
            assert ws == got, (ws, got)
            # alice did not subscribe (and may not)
            assert not [m for m in alice.backlog if m["method"] == "event"], alice.backlog
            m = await alice.request("events.subscribe")
            assert error_code(m) == 403, m
            assert await listed(boss) == []
            await alice.close()
            await boss.close()
    finally:
        rx.close()


async def test_grace_over_is_unregistered_event():
    """The user's last socket stays away past [sip] register_grace (1 s):
    the gateway removes the registration itself, and says so in an event."""
    rx = Receiver()
    try:
        with Kamailio(USERS) as kam, Gateway(conf(kam, hook=rx.url, grace=1)) as gw:
            boss = await connect(gw, "boss")
            alice = await connect(gw)
            assert (await register(alice))["state"] == "registered"
            await alice.close()
            got = of_reg(rx.wait(lambda e: len(of_reg(e)) >= 2))
            assert [e["event"] for e in got] == ["registration.registered",
                                                 "registration.unregistered"], got
            assert got[1]["seq"] == got[0]["seq"] + 1, got
            b = got[1]["registration"]
            assert (b["user"], b["code"], b["sockets"]) == ("alice", 200, 0), b
            await wait_for(lambda: not our_contacts(kam, gw), "our Contact gone")
            assert await listed(boss) == []
            await boss.close()
    finally:
        rx.close()


if __name__ == "__main__":
    tap_main([
        test_admin_lists_registration,
        test_wrong_password_listed_failed,
        test_events_registered_then_unregistered,
        test_grace_over_is_unregistered_event,
    ])
