#!/usr/bin/python3
"""Call events (issue 13 item 3; docs/operations.md): a live gateway with
[events] webhook pointing at a real HTTP server in this test, and an admin
WebSocket that sent events.subscribe. For a browser call that a SIPp phone
answers and the browser ends, both receive call.created, call.ringing,
call.answered and call.ended for it, in that order, with consecutive
sequence numbers; the webhook receiver refuses its first two POSTs (503),
so the gateway must retry them without reordering. An incoming call from
SIPp that the browser rejects is reported too. A receiver that accepts the
connection and never answers must not slow call set-up: the seconds from
`call` to `answered` are measured with a working receiver and with the
hung one, and the hung one's must stay within a small margin."""

import asyncio
import os
import statistics
import time

from abuse import client, health_call
from ops import HungReceiver, Receiver, answered_call
from peers import Baresip, tones
from tandem_harness import Gateway, tap_main
from test_sip_calls import sipp_ok, sipp_uac, sipp_uas

ORDER = ["call.created", "call.ringing", "call.answered", "call.ended"]


def of_call(events, call):
    return [e for e in events if e["call"]["call"] == call]


async def _in_order(gw, rx):
    admin = await client(gw, {"user": "boss"})
    sub = await admin.call("events.subscribe")
    sp, port, cwd = sipp_uas("uas_answer_bye.xml")
    c, pc, call = await answered_call(gw, "sip:ev@127.0.0.1:%d" % port)
    await c.call("hangup", {"call": call})
    await c.wait_state(call, "ended")
    await pc.close()
    sipp_ok(sp, cwd)
    got = of_call(rx.wait(lambda ev: any(e["event"] == "call.ended" and
                                         e["call"]["call"] == call for e in ev)), call)
    assert [e["event"] for e in got] == ORDER, got
    seqs = [e["seq"] for e in got]
    assert seqs == list(range(sub["seq"] + 1, sub["seq"] + 5)), seqs
    assert all(e["time"].endswith("Z") for e in got), got
    assert got[2]["call"]["state"] == "answered", got[2]
    end = got[3]["call"]
    assert end["code"] == 200 and end["ended_by"] == "browser", end
    assert end["legs"]["browser"]["codec"] == "PCMU/8000", end
    # the admin socket got the same events, as notifications
    ws = []
    for _ in range(4):
        m = await admin.wait_note(lambda m: m["method"] == "event")
        ws.append(m["params"])
    assert [(e["seq"], e["event"]) for e in ws] == [(e["seq"], e["event"]) for e in got], ws
    # the one that is not subscribed heard none of them
    assert not [m for m in c.backlog if m["method"] == "event"], c.backlog

    # a call from SIP that the browser rejects: created, ringing, ended
    uac, ucwd = sipp_uac("uac_busy.xml", gw.sip_port)
    inc = (await c.wait_note(lambda m: m["method"] == "incoming"))["params"]
    await c.call("reject", {"call": inc["call"], "code": 486})
    sipp_ok(uac, ucwd)
    got = of_call(rx.wait(lambda ev: any(e["event"] == "call.ended" and
                                         e["call"]["call"] == inc["call"] for e in ev)),
                  inc["call"])
    assert [e["event"] for e in got] == ["call.created", "call.ringing", "call.ended"], got
    end = got[-1]["call"]
    assert end["direction"] == "inbound" and end["user"] == "alice", end
    assert end["code"] == 486 and end["ended_by"] == "browser", end
    every = [e["seq"] for e in rx.events()]
    assert every == sorted(every) and len(set(every)) == len(every), every
    await c.close()
    await admin.close()


def test_webhook_and_subscribers_in_order():
    rx = Receiver(fail_first=2)
    try:
        with Gateway("[auth]\nadmins = boss\n[events]\nwebhook = %s\nretries = 5\n" %
                     rx.url) as gw:
            asyncio.run(_in_order(gw, rx))
    finally:
        rx.close()


async def _hold_and_transfer(gw, rx, a, b):
    c, pc, call = await answered_call(gw, a.uri)
    a.wait_event("CALL_ESTABLISHED")
    await c.call("hold", {"call": call})
    await c.wait_state(call, "held")
    await c.call("resume", {"call": call})
    await c.wait_state(call, "resumed")
    await c.call("transfer", {"call": call, "to": b.uri})
    st = await c.wait_state(call, "ended", 20)
    assert st["reason"] == "transferred", st
    got = of_call(rx.wait(lambda ev: any(e["event"] == "call.ended" and
                                         e["call"]["call"] == call for e in ev)), call)
    assert [e["event"] for e in got] == ["call.created", "call.ringing", "call.answered",
                                         "call.held", "call.resumed", "call.transferred",
                                         "call.ended"], got
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(seqs), seqs
    await pc.close()
    await c.close()


def test_held_resumed_transferred():
    """The browser holds and resumes a call to baresip A and transfers it
    (REFER) to baresip B: the webhook gets call.held, call.resumed and
    call.transferred between answered and ended, in order."""
    rx = Receiver()
    wav = os.path.join(tones(), "tone440_48k.wav")
    a = Baresip("a", source_wav=wav, codecs="pcmu").start()
    b = Baresip("b", source_wav=wav, codecs="pcmu").start()
    try:
        with Gateway("[events]\nwebhook = %s\n" % rx.url) as gw:
            asyncio.run(_hold_and_transfer(gw, rx, a, b))
    finally:
        a.stop()
        b.stop()
        rx.close()


def setup_times(gw, n):
    return [asyncio.run(health_call(gw)) for _ in range(n)]


def test_hung_receiver_does_not_delay_setup():
    rx, hung = Receiver(), HungReceiver()
    try:
        with Gateway("[events]\nwebhook = %s\n" % rx.url) as gw:
            base = setup_times(gw, 3)
        with Gateway("[events]\nwebhook = %s\ntimeout = 30\nqueue = 10\n" % hung.url) as gw:
            t0 = time.monotonic()
            slow = setup_times(gw, 3)
            assert time.monotonic() - t0 < 30, "calls waited on the webhook"
            assert hung.conns, "the gateway never tried the hung receiver"
    finally:
        rx.close()
        hung.close()
    b, s = statistics.median(base), statistics.median(slow)
    print("# call set-up, median of 3: %.3f s with a working receiver, %.3f s with a "
          "hung one (each: %s / %s)" % (b, s, ["%.3f" % x for x in base],
                                        ["%.3f" % x for x in slow]))
    assert s < b + 0.5 and s < 2.0, (base, slow)


if __name__ == "__main__":
    tap_main([test_webhook_and_subscribers_in_order, test_held_resumed_transferred,
              test_hung_receiver_does_not_delay_setup])
