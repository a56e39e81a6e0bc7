"""INFO, MESSAGE and OPTIONS (issue 11 item 6), asserting on what the peers
received: the browser's `info` and `message` notifications (exact bodies),
the INFO and MESSAGE bodies SIPp received (its scenario's regexps and its
message trace), what baresip printed for a MESSAGE it got, and the SIP
status a raw SIP sender got back. One gateway for the whole file.

- SIPp's INFO with an application/json body in a call reaches the browser as
  `info` with that body, and its MESSAGE in the dialog as `message` naming
  the call; the browser's `info` reaches SIPp (type and body),
  and a 415 from SIPp comes back as the request's error 415; the browser's
  in-dialog `message` reaches SIPp; an INFO the peer never answers before
  its BYE fails with 409 instead of waiting.
- A MESSAGE from a trusted source to a logged-in user reaches every socket
  of hers and gets 200; to a user who is not logged in 480; from an
  untrusted source 403 (and no notification); over 8 KiB 413; a body that
  is not text 415.
- `message {to}` reaches baresip (which prints the body) and answers {};
  a `to` outside the dial plan gets 403 and nothing leaves; a peer's
  refusal (404 from baresip for an unknown user) comes back as the error.
- OPTIONS from a trusted source: 200 with Allow listing INFO and MESSAGE,
  Accept and Supported."""

import asyncio
import json
import re
import socket
import time

from aiortc import RTCSessionDescription

from aiortc_peer import offering_pc
from peers import Baresip
from tandem_harness import Gateway, free_port, tap_main
from test_abuse_sip import request
from test_call_aiortc import connect, counters_zero
from test_dtmf import info_bodies, sipp_uas, sipp_wait

_gw = None


def gateway():
    """The file's gateway: 127.0.0.1 trusted (127.0.0.2 is not), and a dial
    plan that allows 127.0.0.1 only."""
    global _gw
    if _gw is None:
        _gw = Gateway("[sip]\ntrusted = 127.0.0.1\n[calls]\nallow = sip:*@127.0.0.1:*\n"
                      ).start()
    return _gw


def cleanup():
    if _gw is None:
        return None
    alive = _gw.proc.poll() is None
    _gw.stop()
    return None if alive else "the gateway died during the tests"


async def browser_call(c, to):
    pc, _ = await offering_pc()
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    return pc, r["call"]


async def test_info_and_message_in_a_call():
    gw = gateway()
    port = free_port(also_udp=True)
    uas = sipp_uas("uas_info_message.xml", port)
    try:
        c = await connect(gw)
        pc, call = await browser_call(c, "sip:sipp@127.0.0.1:%d" % port)
        assert (await c.wait_state(call, "answered"))["code"] == 200
        m = await c.wait_note(lambda m: m["method"] == "info", 15)
        assert m["params"] == {"call": call, "content_type": "application/json",
                               "body": '{"queue":"sales","position":3}\r\n'}, m
        m = await c.wait_note(lambda m: m["method"] == "message", 15)
        assert m["params"]["call"] == call, m
        assert m["params"]["body"].rstrip() == "putting you through to sales", m
        assert m["params"]["content_type"].startswith("text/plain"), m
        r = await c.call("info", {"call": call, "content_type": "application/json",
                                  "body": '{"agent":"alice","state":"wrap-up"}'})
        assert r == {}, r
        m = await c.request("info", {"call": call, "content_type": "application/json",
                                     "body": "{}"})
        assert m["error"]["code"] == 415 and m["error"]["data"]["sip_status"] == 415, m
        r = await c.call("message", {"call": call, "body": "note from the browser"})
        assert r == {}, r
        # a body that is not text is refused before anything is sent
        m = await c.request("info", {"call": call, "content_type": "text/plain",
                                     "body": "a\u0001b"})
        assert m["error"]["code"] == 400 and "body" in m["error"]["message"], m
        # SIPp never answers this one and hangs up: the request fails (409)
        m = await c.request("info", {"call": call, "content_type": "text/plain",
                                     "body": "anyone there?"})
        assert m["error"]["code"] == 409 and "no answer" in m["error"]["message"], m
        st = await c.wait_state(call, "ended")
        assert st["code"] == 200, st
        await pc.close()
        await counters_zero(c)
        await c.close()
        sipp_wait(uas)
    finally:
        if uas.poll() is None:
            uas.kill()
    assert info_bodies(uas.messages)[0] == ("application/json",
                                            '{"agent":"alice","state":"wrap-up"}')


async def test_message_to_logged_in_user():
    gw = gateway()
    c1, c2 = await connect(gw, "carol"), await connect(gw, "carol")
    status, _ = await asyncio.to_thread(
        request, gw.sip_port, "MESSAGE", "carol", body="hello carol \u00e9\u20ac",
        ctype="text/plain;charset=UTF-8")
    assert status == 200, status
    for c in (c1, c2):
        m = await c.wait_note(lambda m: m["method"] == "message", 10)
        p = m["params"]
        assert p["body"] == "hello carol \u00e9\u20ac" and p["content_type"] == "text/plain", p
        assert p["from"].startswith("sip:probe@127.0.0.1") and "call" not in p, p
        assert p["to"] == "sip:carol@127.0.0.1:%d" % gw.sip_port, p
    # not logged in: 480
    status, _ = await asyncio.to_thread(request, gw.sip_port, "MESSAGE", "nobody",
                                        body="hi", ctype="text/plain")
    assert status == 480, status
    # an untrusted source: 403, whoever it is for, and carol hears nothing
    status, _ = await asyncio.to_thread(request, gw.sip_port, "MESSAGE", "carol",
                                        source="127.0.0.2", body="spam", ctype="text/plain")
    assert status == 403, status
    # too big, and not text
    status, _ = await asyncio.to_thread(request, gw.sip_port, "MESSAGE", "carol",
                                        body="x" * 9000, ctype="text/plain")
    assert status == 413, status
    status, _ = await asyncio.to_thread(request, gw.sip_port, "MESSAGE", "carol",
                                        body=b"\x00\xff\xfe binary", ctype="image/png")
    assert status == 415, status
    try:
        m = await c1.wait_note(lambda m: m["method"] == "message", 1.0)
        raise AssertionError("a refused MESSAGE reached the user: %s" % m)
    except AssertionError as e:
        if "no matching notification" not in str(e):
            raise
    await c1.close()
    await c2.close()


def baresip_with_console():
    """baresip with its UDP console (cons.so): what its menu prints for a
    MESSAGE it receives (`<from>: "<body>"`) goes to the console's last
    peer, so the returned socket has sent it a key first."""
    cport = free_port(also_udp=True)
    b = Baresip(user="b", extra_modules=["cons.so"])
    with open(b.dir + "/config", "a") as f:
        f.write("cons_listen 127.0.0.1:%d\n" % cport)
    b.start()
    cons = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cons.bind(("127.0.0.1", 0))
    cons.sendto(b"h", ("127.0.0.1", cport))     # the help menu comes back
    cons.settimeout(5)
    cons.recv(65535)
    return b, cons


def console_until(cons, needle, timeout=5):
    deadline, got = time.monotonic() + timeout, ""
    while needle not in got:
        left = deadline - time.monotonic()
        assert left > 0, "baresip did not print %r; printed %r" % (needle, got[-500:])
        cons.settimeout(left)
        try:
            got += cons.recv(65535).decode(errors="replace")
        except socket.timeout:
            pass
    return got


async def test_message_out_to_baresip():
    gw = gateway()
    b, cons = baresip_with_console()
    trap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trap.bind(("127.0.0.9", 0))
    trap.settimeout(1.0)
    try:
        c = await connect(gw)
        r = await c.call("message", {"to": b.uri, "body": "hello baresip 42"})
        assert r == {}, r
        await asyncio.to_thread(console_until, cons,
                                'sip:alice@127.0.0.1: "hello baresip 42"')
        # baresip answers 404 for a user it has no account for
        m = await c.request("message", {"to": "sip:nobody@127.0.0.1:%d" % b.sip_port,
                                        "body": "x"})
        assert m["error"]["code"] == 404 and m["error"]["data"]["sip_status"] == 404, m
        # the dial plan: 403, and no MESSAGE leaves
        m = await c.request("message", {"to": "sip:premium@127.0.0.9:%d" %
                                        trap.getsockname()[1], "body": "x"})
        assert m["error"]["code"] == 403 and "dial plan" in m["error"]["message"], m
        try:
            trap.recv(2048)
            raise AssertionError("a MESSAGE left for a forbidden destination")
        except socket.timeout:
            pass
        m = await c.request("message", {"to": b.uri, "call": "1", "body": "x"})
        assert m["error"]["code"] == -32602, m
        await c.close()
    finally:
        trap.close()
        cons.close()
        b.stop()


def test_options_allow():
    gw = gateway()
    status, text = request(gw.sip_port, "OPTIONS")
    assert status == 200, (status, text)
    allow = re.search(r"^Allow:\s*(.*)$", text, re.M | re.I)
    assert allow, text
    methods = {x.strip() for x in allow.group(1).split(",")}
    assert {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO", "MESSAGE"} <= methods, \
        methods
    assert re.search(r"^Accept:", text, re.M | re.I), text
    assert re.search(r"^(Supported|k):", text, re.M | re.I), text


if __name__ == "__main__":
    tap_main([test_info_and_message_in_a_call, test_message_to_logged_in_user,
              test_message_out_to_baresip, test_options_allow], cleanup)
