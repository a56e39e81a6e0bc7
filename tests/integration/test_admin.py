#!/usr/bin/python3
"""Admin requests (issue 13 item 5; protocol.md "Admin requests"): a live
gateway with [auth] mode = users, alice an ordinary user and boss named in
[auth] admins. Every admin request and events.subscribe from alice gets
403, whatever its parameters. boss lists the calls and sees alice's call
to a SIPp phone (which echoes her RTP), reads it with its media figures,
and hangs it up: alice gets `ended`, and SIPp must receive our BYE.
admin.registrations answers an empty list with nothing registered
(test_reg_ops.py lists real ones against Kamailio); admin.log_level changes a
module's level and refuses unknown ones; admin.reload applies a changed
file (a dial plan that then refuses alice's next call with 403) and
refuses a broken one with 400, the gateway running on; admin.drain drains
as SIGUSR1 does."""

import asyncio
import subprocess

from abuse import client
from ops import place_call
from tandem_harness import TANDEM, Gateway, error_code, tap_main
from test_sip_calls import sipp_ok, sipp_uas

ADMIN_METHODS = [("admin.calls", None), ("admin.registrations", None),
                 ("admin.call", {"call": "c1"}), ("admin.hangup", {"call": "c1"}),
                 ("admin.reload", None), ("admin.log_level", {"module": "sip", "level": "debug"}),
                 ("admin.drain", None), ("events.subscribe", None),
                 ("admin.calls", {"bogus": 1})]


def hash_of(password):
    r = subprocess.run([TANDEM, "--hash-password"], input=password + "\n", text=True,
                       capture_output=True, check=True)
    return r.stdout.strip()


HASHES = {}


def users_conf(extra=""):
    if not HASHES:
        HASHES["alice"], HASHES["boss"] = hash_of("alicepw"), hash_of("bosspw")
    return ("[auth]\nmode = users\nadmins = boss, root\n%s[users]\nalice = %s\nboss = %s\n" %
            (extra, HASHES["alice"], HASHES["boss"]))


async def login(gw, user):
    return await client(gw, {"user": user, "password": user + "pw"})


async def _ordinary(gw):
    alice = await login(gw, "alice")
    for method, params in ADMIN_METHODS:
        m = await alice.request(method, params)
        assert error_code(m) == 403, (method, m)
        assert "admin" in m["error"]["message"], m
    # before any login: 401, never the admin's answer
    anon = await client(gw, login=False)
    m = await anon.request("admin.calls")
    assert error_code(m) == 401, m
    await alice.close()
    await anon.close()


def test_ordinary_user_gets_403():
    with Gateway(users_conf()) as gw:
        asyncio.run(_ordinary(gw))


async def _hangup(gw):
    sp, port, cwd = sipp_uas("uas_answer_bye.xml", extra=["-rtp_echo"])
    boss = await login(gw, "boss")
    assert (await boss.call("admin.calls")) == {"calls": []}
    alice, pc, call = await answered_call_users(gw, "sip:echo@127.0.0.1:%d" % port)
    calls = (await boss.call("admin.calls"))["calls"]
    assert [(x["call"], x["user"], x["state"]) for x in calls] == [(call, "alice", "answered")], \
        calls
    await asyncio.sleep(1.5)
    one = (await boss.call("admin.call", {"call": call}))["call"]
    assert one["call"] == call and one["end"] is None and one["duration"] > 1, one
    for leg in ("browser", "sip"):
        assert one["legs"][leg]["packets_in"] > 30, one     # the echo flows both ways
    m = await boss.request("admin.call", {"call": "nosuchcall"})
    assert error_code(m) == 404, m
    await boss.call("admin.hangup", {"call": call, "reason": "maintenance"})
    st = await alice.wait_state(call, "ended")
    assert st["reason"] == "maintenance" and st["code"] == 200, st
    sipp_ok(sp, cwd)           # SIPp got our BYE
    assert (await boss.call("admin.calls")) == {"calls": []}
    m = await boss.request("admin.hangup", {"call": call})
    assert error_code(m) == 404, m
    await pc.close()
    await alice.close()
    await boss.close()


async def answered_call_users(gw, uri):
    """answered_call for alice with her password."""
    c = await login(gw, "alice")
    pc, call = await place_call(c, uri)
    st = await c.wait_state(call, "answered", 15)
    assert st["code"] == 200, st
    return c, pc, call


def test_admin_lists_shows_and_hangs_up():
    with Gateway(users_conf()) as gw:
        asyncio.run(_hangup(gw))


async def _misc(gw):
    boss = await login(gw, "boss")
    assert (await boss.call("admin.registrations")) == {"registrations": []}
    r = await boss.call("admin.log_level", {"module": "sip", "level": "warn"})
    assert r == {"module": "sip", "level": "warn"}, r
    m = await boss.request("admin.log_level", {"module": "nosuch", "level": "warn"})
    assert error_code(m) == 400, m
    m = await boss.request("admin.log_level", {"module": "sip", "level": "loud"})
    assert error_code(m) == 400, m
    m = await boss.request("admin.calls", {"bogus": 1})
    assert error_code(m) == -32602, m

    # a dial plan that allows nothing but pbx.example, through admin.reload
    gw.write_conf(users_conf() + "[calls]\nallow = sip:*@pbx.example\n")
    assert (await boss.call("admin.reload")) == {}
    alice = await login(gw, "alice")
    m = await alice.request("call", {"to": "sip:x@127.0.0.1:5099", "sdp": "v=0\r\n"})
    assert error_code(m) == 403, m
    # a broken file is refused and the gateway keeps running
    with open(gw.conf, "a") as f:
        f.write("[nosuchsection]\nkey = 1\n")
    m = await boss.request("admin.reload")
    assert error_code(m) == 400 and "refused" in m["error"]["message"], m
    assert (await alice.call("ping")) == {}
    await alice.close()
    await boss.close()


def test_admin_registrations_log_level_reload():
    with Gateway(users_conf()) as gw:
        asyncio.run(_misc(gw))


async def _drain(gw):
    sp, port, cwd = sipp_uas("uas_answer_bye.xml")
    boss = await login(gw, "boss")
    alice, pc, call = await answered_call_users(gw, "sip:drain@127.0.0.1:%d" % port)
    assert (await boss.call("admin.drain")) == {}
    m = await boss.request("admin.drain")
    assert error_code(m) == 409, m
    m = await alice.request("call", {"to": "sip:x@127.0.0.1:%d" % port, "sdp": "v=0\r\n"})
    assert error_code(m) == 503 and "draining" in m["error"]["message"], m
    assert gw.proc.poll() is None, "exited with a call up"
    await alice.call("hangup", {"call": call})
    rc = await asyncio.get_running_loop().run_in_executor(None, gw.proc.wait, 15)
    assert rc == 0, rc
    sipp_ok(sp, cwd)
    await pc.close()


def test_admin_drain():
    """admin.drain is SIGUSR1: new calls get 503, the call up carries on,
    and the gateway exits 0 once it has ended."""
    with Gateway(users_conf()) as gw:
        asyncio.run(_drain(gw))


if __name__ == "__main__":
    tap_main([test_ordinary_user_gets_403, test_admin_lists_shows_and_hangs_up,
              test_admin_registrations_log_level_reload, test_admin_drain])
