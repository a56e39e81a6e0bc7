"""An INVITE with Replaces (RFC 3891) takes a call over (issue 11 item 5,
the SIP phones' half of attended transfer). aiortc is the browser and calls
phone B (SIPp, playing 440 Hz); phone C (SIPp, playing 660 Hz) INVITEs the
gateway with a Replaces header built from the A-B dialog as B logged it
(Call-ID, and the tags: to-tag is the gateway's, the From tag of the
INVITE B got; from-tag is B's own, in its 200):

- C gets 200, B gets BYE (both SIPp scenarios fail otherwise), the browser
  keeps its RTCPeerConnection, is told `answered` "replaced by <C>", and
  hears C's 660 Hz after hearing B's 440 Hz; C's BYE then ends the call;
  an admin's event stream has `call.transferred` with C as the call's `to`;
- the same for a call the browser placed that still rings at B (an early
  dialog the gateway placed): B gets CANCEL instead of BYE;
- refusals leave the call as it was (the browser still hears B, and B's
  dialog ends only with the browser's hangup): an unknown Call-ID gets 481,
  a right Replaces from an untrusted source without credentials 403,
  `early-only` against the answered dialog 486."""

import asyncio
import os
import re
import subprocess
import tempfile
import time

from aiortc import RTCSessionDescription

from abuse import udp_bound
from aiortc_peer import Client, offering_pc
from peers import assert_tone, dominant
from tandem_harness import Gateway, free_port, tap_main

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP_DIR = os.path.join(HERE, "sipp")
# loopback only is trusted, so 127.0.0.2 is an untrusted source
CONF = "[sip]\ntrusted = 127.0.0.1\n[auth]\nadmins = boss\n"
GW = {}


def gateway():
    if "gw" not in GW:
        GW["gw"] = Gateway(CONF).start()
    return GW["gw"]


def sipp_dir(hz):
    """A working directory holding tone.ul: hz as raw 8 kHz mu-law."""
    d = tempfile.mkdtemp(prefix="tandem-repl-")
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw",
                    os.path.join(d, "tone.ul"), "synth", "30", "sine", str(hz), "vol", "0.5"],
                   check=True)
    return d


def sipp(args, cwd, scenario=None, text=None):
    """SIPp in cwd with a scenario file, or a copy of one changed to `text`."""
    path = os.path.join(SIPP_DIR, scenario or "")
    if text is not None:
        path = os.path.join(cwd, "scenario.xml")
        with open(path, "w") as f:
            f.write(text)
    cmd = ["sipp", "-sf", path, "-mi", "127.0.0.1", "-mp", str(free_port(also_udp=True)),
           "-m", "1", "-nostdin", "-trace_err", "-timeout", "45", "-timeout_error"] + args
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def sipp_ok(proc, what, timeout=20):
    try:
        out = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
    assert proc.returncode == 0, "%s: SIPp exited %s: %s" % (what, proc.returncode, out[-1200:])


def phone_b(scenario="uas_replaced.xml"):
    """B answering (or only ringing) on a free port: (proc, uri, cwd), once
    it is bound."""
    cwd, port = sipp_dir(440), free_port(also_udp=True)
    p = sipp(["-i", "127.0.0.1", "-p", str(port), "-trace_msg"], cwd, scenario)
    deadline = time.monotonic() + 5
    while not udp_bound(port):
        assert p.poll() is None and time.monotonic() < deadline, "SIPp B did not start"
        time.sleep(0.02)
    return p, "sip:b@127.0.0.1:%d" % port, cwd


def dialog_of(cwd):
    """(Call-ID, gateway's tag, B's tag) of the dialog in B's message trace."""
    for _ in range(50):
        logs = [n for n in os.listdir(cwd) if n.endswith("_messages.log")]
        text = open(os.path.join(cwd, logs[0]), errors="replace").read() if logs else ""
        invite = re.search(r"(?ms)^INVITE .*?\n\r?\n", text)
        ok = re.search(r"(?ms)^SIP/2.0 (?:180|200) .*?\n\r?\n", text)
        if invite and ok:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("no INVITE and 200 in B's trace")
    call_id = re.search(r"(?mi)^Call-ID:\s*(\S+)", invite.group(0)).group(1)
    ours = re.search(r"(?mi)^From:.*;tag=([^;\s>]+)", invite.group(0)).group(1)
    theirs = re.search(r"(?mi)^To:.*;tag=([^;\s>]+)", ok.group(0)).group(1)
    return call_id, ours, theirs


def phone_c(replaces, source="127.0.0.1", expect=None):
    """C's INVITE with Replaces: the takeover scenario, or (expect) the
    refused one expecting that status."""
    cwd = sipp_dir(660)
    args = ["127.0.0.1:%d" % gateway().sip_port, "-i", source,
            "-p", str(free_port(also_udp=True)), "-key", "replaces", replaces]
    if expect is None:
        return sipp(args, cwd, "uac_replaces.xml")
    with open(os.path.join(SIPP_DIR, "uac_replaces_refused.xml")) as f:
        text = f.read().replace('response="481"', 'response="%d"' % expect)
    return sipp(args, cwd, text=text)


async def browser_calls_b(uri, state="answered"):
    ws = await gateway().connect()
    c = Client(ws)
    await c.call("login", {"user": "alice"})
    pc, rec = await offering_pc("PCMU", record=True)
    r = await c.call("call", {"to": uri, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(r["call"], state)
    assert st["code"] == (200 if state == "answered" else 180), st
    return c, pc, rec, r["call"]


def heard(rec, since, hz, what):
    x, rate = rec.samples()
    assert_tone(x[since:], rate, hz, 1.5, what)


async def test_refusals_leave_the_call():
    b, uri, bdir = phone_b()
    c, pc, rec, call = await browser_calls_b(uri)
    try:
        call_id, ours, theirs = dialog_of(bdir)
        right = "%s;to-tag=%s;from-tag=%s" % (call_id, ours, theirs)
        cases = [("unknown;to-tag=%s;from-tag=%s" % (ours, theirs), "127.0.0.1", 481),
                 (right, "127.0.0.2", 403),
                 (right + ";early-only", "127.0.0.1", 486)]
        for replaces, source, status in cases:
            # each refusal a SIPp peer saw: its scenario fails on any other
            sipp_ok(phone_c(replaces, source, expect=status), "Replaces %d" % status)
        mark = sum(len(x) for x in rec.chunks)
        await asyncio.sleep(2.5)
        heard(rec, mark, 440, "browser after the refusals (still B)")
        # no state change reached the browser meanwhile
        assert not [m for m in c.backlog if m["params"].get("call") == call], c.backlog
        assert c.notes.empty(), "notification after the refusals"
        assert b.poll() is None, "B's dialog ended"
        await c.call("hangup", {"call": call})
        sipp_ok(b, "B (BYE after the browser's hangup)")
    finally:
        rec.stop()
        await pc.close()
        await c.close()


async def test_replaces_takes_the_call_over():
    b, uri, bdir = phone_b()
    admin = Client(await gateway().connect())
    await admin.call("login", {"user": "boss"})
    await admin.call("events.subscribe")
    c, pc, rec, call = await browser_calls_b(uri)
    try:
        await asyncio.sleep(2)
        x, rate = rec.samples()
        peak, _, _ = dominant(x, rate)
        assert abs(peak - 440) <= 20, "browser heard %.0f Hz from B, not 440" % peak
        call_id, ours, theirs = dialog_of(bdir)
        cp = phone_c("%s;to-tag=%s;from-tag=%s" % (call_id, ours, theirs))
        st = await c.wait_state(call, ("answered", "ended"), timeout=10)
        assert st["state"] == "answered" and st["code"] == 200, st
        assert st["reason"].startswith("replaced by sip:c@127.0.0.1"), st
        mark = sum(len(x) for x in rec.chunks)
        # B's scenario passes only once our BYE came
        sipp_ok(b, "B (BYE for the replaced dialog)", timeout=10)
        st = await c.wait_state(call, "ended", timeout=15)
        heard(rec, mark, 660, "browser after the replacement (C)")
        sipp_ok(cp, "C (200 to its INVITE with Replaces)", timeout=10)
        # operators see it as a transfer, and the call's peer is C now
        ev = (await admin.wait_note(lambda m: m["method"] == "event" and
                                    m["params"]["event"] == "call.transferred" and
                                    m["params"]["call"]["call"] == call))["params"]
        assert ev["call"]["to"].startswith("sip:c@127.0.0.1"), ev
    finally:
        rec.stop()
        await pc.close()
        await c.close()
        await admin.close()


async def test_replaces_picks_up_a_ringing_call():
    """A call the browser placed still rings at B; C's Replaces names that
    early dialog (the gateway placed it: RFC 3891 section 3 lets it be
    replaced): C gets 200, B the CANCEL (its scenario fails without it),
    and the browser's call is answered by C, whom it hears."""
    b, uri, bdir = phone_b("uas_ring_cancel.xml")
    c, pc, rec, call = await browser_calls_b(uri, "ringing")
    try:
        call_id, ours, theirs = dialog_of(bdir)
        cp = phone_c("%s;to-tag=%s;from-tag=%s" % (call_id, ours, theirs))
        st = await c.wait_state(call, ("answered", "ended"), timeout=10)
        assert st["state"] == "answered" and st["code"] == 200, st
        assert st["reason"].startswith("replaced by sip:c@127.0.0.1"), st
        mark = sum(len(x) for x in rec.chunks)
        sipp_ok(b, "B (CANCEL for the replaced early dialog)", timeout=10)
        await c.wait_state(call, "ended", timeout=15)
        heard(rec, mark, 660, "browser after the pickup (C)")
        sipp_ok(cp, "C (200 to its INVITE with Replaces)", timeout=10)
    finally:
        rec.stop()
        await pc.close()
        await c.close()


def cleanup():
    for gw in GW.values():
        gw.stop()


if __name__ == "__main__":
    tap_main([test_refusals_leave_the_call, test_replaces_takes_the_call_over,
              test_replaces_picks_up_a_ringing_call], cleanup)
