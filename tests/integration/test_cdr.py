#!/usr/bin/python3
"""CDRs (issue 13 item 2; docs/operations.md): an aiortc browser calls SIPp
phones through a live gateway with [cdr] file set, and the file must hold
exactly one JSON line per call with what really happened: 200 and media
figures for an answered call (SIPp echoes the RTP, so both legs count
packets), 486 for a busy phone, 487 for a call the browser cancelled while
it rang, the SIP failure for a phone that is not there, 486 from the
browser for a call from SIPp that it rejected, and a line for a call the
gateway ended on SIGTERM, on disk when the process has exited.
A SIGHUP after the file was moved away (log rotation) starts a new file
and loses nothing. With [cdr] syslog = true the same line reaches syslog:
the gateway runs in a mount namespace whose /dev/log is this test's
socket."""

import asyncio
import json
import os
import re
import signal
import time

from abuse import client
from ops import answered_call, cdrs, place_call, wait_cdr
from tandem_harness import Gateway, free_port, tap_main
from test_sip_calls import sipp_ok, sipp_uac, sipp_uas

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def cdr_gateway():
    gw = Gateway()
    path = os.path.join(gw.dir, "cdr.jsonl")
    gw.write_conf("[cdr]\nfile = %s\n" % path)
    return gw, path


def common(r, call, user="alice", direction="outbound"):
    assert r["call"] == call and r["user"] == user, r
    assert r["direction"] == direction and r["trunk"] == "", r
    assert r["state"] == "ended", r
    assert re.match(r"^[^@\s]+@?", r["sip_call_id"]) and r["sip_call_id"], r
    for k in ("start", "end"):
        assert ISO.match(r[k]), (k, r)
    assert r["start"] <= r["end"], r


async def _answered(gw, path):
    sp, port, cwd = sipp_uas("uas_answer_bye.xml", extra=["-rtp_echo"])
    c, pc, call = await answered_call(gw, "sip:echo@127.0.0.1:%d" % port, media_s=2.5)
    await c.call("hangup", {"call": call})
    await c.wait_state(call, "ended")
    await pc.close()
    sipp_ok(sp, cwd)            # it saw our BYE
    r = wait_cdr(path, call)
    print("# CDR: %s" % json.dumps(r))
    common(r, call)
    assert r["code"] == 200 and r["ended_by"] == "browser", r
    assert r["to"] == "sip:echo@127.0.0.1:%d" % port and r["from"] == "alice", r
    assert ISO.match(r["ringing"]) and ISO.match(r["answer"]), r
    assert r["start"] <= r["ringing"] <= r["answer"] <= r["end"], r
    assert 2.0 <= r["duration"] <= 30, r
    for leg in ("browser", "sip"):
        lg = r["legs"][leg]
        assert lg["codec"] == "PCMU/8000" and lg["media_mode"] == "pass-through", r
        # 2.5 s of 20 ms packets each way, on loopback
        assert lg["packets_in"] >= 60 and lg["packets_out"] >= 60, (leg, lg)
        assert lg["lost"] <= 5 and 0 <= lg["loss_pct"] <= 5, (leg, lg)
        assert 0 <= lg["jitter_ms"] < 100, (leg, lg)
        assert 3.5 <= lg["mos"] <= 4.5, (leg, lg)
    assert r["mos"] == min(r["legs"]["browser"]["mos"], r["legs"]["sip"]["mos"]), r
    await c.close()


def test_answered_call():
    gw, path = cdr_gateway()
    with gw:
        asyncio.run(_answered(gw, path))


async def _busy(gw, path):
    sp, port, cwd = sipp_uas("uas_busy.xml")
    c = await client(gw)
    pc, call = await place_call(c, "sip:busy@127.0.0.1:%d" % port)
    st = await c.wait_state(call, "ended")
    assert st["code"] == 486, st
    await pc.close()
    sipp_ok(sp, cwd)
    r = wait_cdr(path, call)
    common(r, call)
    assert r["code"] == 486 and r["ended_by"] == "sip" and r["reason"] == "Busy Here", r
    assert ISO.match(r["ringing"]) and r["answer"] is None and r["duration"] == 0, r
    await c.close()


def test_busy_call():
    gw, path = cdr_gateway()
    with gw:
        asyncio.run(_busy(gw, path))


async def _cancelled(gw, path):
    sp, port, cwd = sipp_uas("uas_cancel.xml")
    c = await client(gw)
    pc, call = await place_call(c, "sip:ring@127.0.0.1:%d" % port)
    await c.wait_state(call, "ringing")
    await c.call("hangup", {"call": call})
    st = await c.wait_state(call, "ended")
    assert st["code"] == 487, st
    await pc.close()
    sipp_ok(sp, cwd)            # CANCEL, then the ACK for its 487
    r = wait_cdr(path, call)
    common(r, call)
    assert r["code"] == 487 and r["ended_by"] == "browser", r
    assert ISO.match(r["ringing"]) and r["answer"] is None, r
    await c.close()


def test_cancelled_call():
    gw, path = cdr_gateway()
    with gw:
        asyncio.run(_cancelled(gw, path))


async def _failed(gw, path):
    # nobody listens there: the INVITE fails at the transport (ICMP)
    port = free_port(also_udp=True)
    c = await client(gw)
    pc, call = await place_call(c, "sip:nobody@127.0.0.1:%d" % port)
    st = await c.wait_state(call, "ended", 40)
    await pc.close()
    r = wait_cdr(path, call)
    common(r, call)
    assert r["code"] == st["code"] and r["code"] >= 400, (r, st)
    assert r["ended_by"] == "sip" and r["answer"] is None, r
    await c.close()


def test_failed_call():
    gw, path = cdr_gateway()
    with gw:
        asyncio.run(_failed(gw, path))


async def _term(gw, path):
    sp, port, cwd = sipp_uas("uas_answer_bye.xml", extra=["-rtp_echo"])
    c, pc, call = await answered_call(gw, "sip:term@127.0.0.1:%d" % port, media_s=1)
    assert cdrs(path) == [], "a CDR before the call ended"
    gw.signal(signal.SIGTERM)
    t0 = time.monotonic()
    rc = await asyncio.get_running_loop().run_in_executor(None, gw.proc.wait, 15)
    assert rc == 0, rc
    # on disk by the time the process is gone: no waiting here
    found = [r for r in cdrs(path) if r["call"] == call]
    assert len(found) == 1, cdrs(path)
    r = found[0]
    common(r, call)
    assert r["ended_by"] == "gateway" and r["reason"] == "gateway shutting down", r
    assert ISO.match(r["answer"]) and r["duration"] >= 1, r
    print("# SIGTERM to exit: %.2f s" % (time.monotonic() - t0))
    sipp_ok(sp, cwd)            # the shutdown sent BYE
    await pc.close()


def test_sigterm_writes_cdr():
    gw, path = cdr_gateway()
    with gw:
        asyncio.run(_term(gw, path))


async def _inbound(gw, path):
    c = await client(gw)
    uac, ucwd = sipp_uac("uac_busy.xml", gw.sip_port)
    inc = (await c.wait_note(lambda m: m["method"] == "incoming"))["params"]
    await c.call("reject", {"call": inc["call"], "code": 486})
    sipp_ok(uac, ucwd)          # it got our 180, then the 486
    r = wait_cdr(path, inc["call"])
    common(r, inc["call"], direction="inbound")
    assert r["from"].startswith("sip:bob@") and r["to"].startswith("sip:alice@"), r
    assert r["code"] == 486 and r["ended_by"] == "browser", r
    assert ISO.match(r["ringing"]) and r["answer"] is None, r
    await c.close()


def test_inbound_rejected_call():
    gw, path = cdr_gateway()
    with gw:
        asyncio.run(_inbound(gw, path))


async def _rotation(gw, path):
    c = await client(gw)
    calls = []
    for i in range(3):
        sp, port, cwd = sipp_uas("uas_busy.xml")
        pc, call = await place_call(c, "sip:busy%d@127.0.0.1:%d" % (i, port))
        await c.wait_state(call, "ended")
        await pc.close()
        sipp_ok(sp, cwd)
        calls.append(call)
        if i == 0:
            wait_cdr(path, call)
            os.rename(path, path + ".1")      # logrotate's move
            gw.signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while not os.path.exists(path):    # the writer reopened the file
                assert time.monotonic() < deadline, "no new CDR file after SIGHUP"
                await asyncio.sleep(0.05)
    wait_cdr(path, calls[2])
    wait_cdr(path, calls[1])
    assert [r["call"] for r in cdrs(path + ".1")] == calls[:1], cdrs(path + ".1")
    assert [r["call"] for r in cdrs(path)] == calls[1:], cdrs(path)
    await c.close()


SYSLOG_WRAPPER = """#!/bin/sh
# tandem with its own /dev, in a mount namespace of its own, where /dev/log
# is the test's socket: syslog(3) always writes to /dev/log
set -e
t=$1; shift
mount -t tmpfs tmpfs "$t/dev"
for n in null zero random urandom; do
	touch "$t/dev/$n"
	mount --bind "/dev/$n" "$t/dev/$n"
done
ln -s "$t/log.sock" "$t/dev/log"
mount --rbind "$t/dev" /dev
exec "$@"
"""


def test_syslog():
    """[cdr] syslog = true: the same line reaches syslog, tagged tandem-cdr,
    besides the file."""
    import socket
    import tandem_harness
    gw, path = cdr_gateway()
    gw.write_conf("[cdr]\nfile = %s\nsyslog = true\n" % path)
    os.mkdir(os.path.join(gw.dir, "dev"))
    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log.bind(os.path.join(gw.dir, "log.sock"))
    log.settimeout(10)
    wrapper = os.path.join(gw.dir, "wrap.sh")
    with open(wrapper, "w") as f:
        f.write(SYSLOG_WRAPPER)
    real, script = tandem_harness.TANDEM, os.path.join(gw.dir, "tandem-ns")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nexec unshare -m sh %s %s %s \"$@\"\n" % (wrapper, gw.dir, real))
    os.chmod(script, 0o755)
    tandem_harness.TANDEM = script
    try:
        with gw:
            call = asyncio.run(_one_busy(gw))
            line = wait_cdr(path, call)
            got = []
            while not any(call in g for g in got):
                got.append(log.recv(65536).decode(errors="replace"))
    finally:
        tandem_harness.TANDEM = real
        log.close()
    msg = [g for g in got if call in g][0]
    # RFC 3164 as glibc writes it: <PRI>timestamp tag[pid]: message
    assert msg.startswith("<14>") and " tandem-cdr[" in msg, msg
    assert json.loads(msg.split("]: ", 1)[1]) == line, (msg, line)


async def _one_busy(gw):
    sp, port, cwd = sipp_uas("uas_busy.xml")
    c = await client(gw)
    pc, call = await place_call(c, "sip:busy@127.0.0.1:%d" % port)
    await c.wait_state(call, "ended")
    await pc.close()
    sipp_ok(sp, cwd)
    await c.close()
    return call


def test_sighup_reopens_file():
    gw, path = cdr_gateway()
    with gw:
        asyncio.run(_rotation(gw, path))


if __name__ == "__main__":
    tap_main([test_answered_call, test_busy_call, test_cancelled_call, test_failed_call,
              test_inbound_rejected_call, test_sigterm_writes_cdr, test_sighup_reopens_file,
              test_syslog])
