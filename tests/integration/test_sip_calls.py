"""INVITE dialogs of sip/ in both directions, against real peers on loopback.

tests/integration/sip-drive (sip_drive.c) runs one Tandem SIP user agent and
prints its call events as JSON lines. Its peers are SIPp scenarios (sipp/),
baresip (harness.md section 6) driven over ctrl_tcp, and, for what nua
answers by itself, a few hand-built SIP requests over UDP. Every test
checks what both sides saw: our events and statuses, SIPp's exit code (it
fails on any unexpected message or failed regexp check), baresip's CALL_*
events. sip-drive also reports the tnd_obj count after it freed everything:
it must be 0. Ports are free ones on 127.0.0.1; readiness is probed (sip-drive
prints "ready" once bound and answers OPTIONS; SIPp's socket shows in
/proc/net/udp; baresip answers ctrl_tcp and OPTIONS), never slept for."""

import json
import math
import os
import queue
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import wave

from tandem_harness import TOP_BUILDDIR, free_port, tap_main

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP_DIR = os.path.join(HERE, "sipp")
DRIVE = os.path.join(TOP_BUILDDIR, "tests", "integration", "sip-drive")
EALREADY = 114
EINVAL = 22

_children = []


def _reap():
    """Kills whatever a test left running (on failure paths)."""
    while _children:
        p = _children.pop()
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


def _spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    _children.append(p)
    return p


def udp_bound(port):
    """True when some socket is bound to UDP port on this host (a probe that
    never takes the port itself)."""
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    local = line.split()[1]
                    if int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


# ------------------------------------------------------------ raw SIP over UDP

def sip_request(port, method, ruri=None, body=None, ctype="application/sdp", extra="",
                max_forwards=70, timeout=5):
    """Sends one request from a fresh UDP socket, returns (final status, text);
    ACKs a non-2xx final response to INVITE as RFC 3261 17.1.1.3 says."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        r = "%x" % random.getrandbits(64)
        ruri = ruri or "sip:alice@127.0.0.1:%d" % port
        b = body.encode() if body else b""
        msg = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
               "Max-Forwards: %d\r\nFrom: <sip:probe@127.0.0.1>;tag=%s\r\nTo: <%s>\r\n"
               "Call-ID: %s@probe\r\nCSeq: 1 %s\r\nContact: <sip:probe@127.0.0.1:%d>\r\n%s"
               % (method, ruri, lport, r, max_forwards, r, ruri, r, method, lport, extra))
        if b:
            msg += "Content-Type: %s\r\n" % ctype
        msg += "Content-Length: %d\r\n\r\n" % len(b)
        s.sendto(msg.encode() + b, ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            text = s.recv(65535).decode(errors="replace")
            status = int(text.split(" ", 2)[1])
            if status >= 200:
                break
        if method == "INVITE" and status >= 300:
            to = re.search(r"^(?:To|t):(.*)$", text, re.M | re.I).group(1).strip()
            ack = ("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
                   "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=%s\r\nTo: %s\r\n"
                   "Call-ID: %s@probe\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                   % (ruri, lport, r, r, to, r))
            s.sendto(ack.encode(), ("127.0.0.1", port))
        return status, text
    finally:
        s.close()


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 9 RTP/AVP 0\r\n")


# ------------------------------------------------------------ sip-drive

class Drive:
    """A sip-drive process; events arrive on a queue from a reader thread."""

    def __init__(self, *args, port=None, timeout_ms=15000):
        self.port = port or free_port(also_udp=True)
        # a socket at the SDP's media port swallows peers' RTP, so no ICMP
        # error disturbs them
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind(("127.0.0.1", 0))
        self.logf = tempfile.NamedTemporaryFile(prefix="sip-drive-", suffix=".log", delete=False)
        cmd = [DRIVE, "--port", str(self.port), "--timeout", str(timeout_ms),
               "--media-port", str(self.media.getsockname()[1]), "--log", "info,sip=debug"]
        self.proc = _spawn(cmd + [str(a) for a in args], stdout=subprocess.PIPE,
                           stderr=self.logf, text=True)
        self.q = queue.Queue()
        self.events = []
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.expect("ready", 5)
        assert ready["err"] == 0, ready

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                self.q.put({"event": "garbage", "line": line})
        self.q.put(None)

    def describe(self):
        with open(self.logf.name, errors="replace") as f:
            log = f.read()
        return "events: %s\nlog tail:\n%s" % (json.dumps(self.events, indent=None)[-3000:],
                                              log[-3000:])

    def expect(self, name, timeout=10):
        """The next event called name (events before it are kept too)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                ev = self.q.get(timeout=max(0.01, left))
            except queue.Empty:
                raise AssertionError("no %s event in %ss\n%s" % (name, timeout, self.describe()))
            if ev is None:
                raise AssertionError("sip-drive exited before %s\n%s" % (name, self.describe()))
            self.events.append(ev)
            if ev.get("event") == name:
                return ev

    def probe(self):
        """R11 readiness: the UA answers OPTIONS."""
        status, _ = sip_request(self.port, "OPTIONS", "sip:%d@127.0.0.1:%d" % (self.port,
                                                                                self.port))
        assert status == 200, status

    def finish(self, timeout=15):
        """Waits for the exit event and the process; checks nothing leaked."""
        ex = self.expect("exit", timeout)
        rc = self.proc.wait(5)
        assert ex["live_objs"] == 0 and ex["calls"] == 0, (ex, self.describe())
        assert rc == 0, (rc, self.describe())
        self.media.close()
        os.unlink(self.logf.name)   # kept only when something failed
        return ex

    def named(self, name):
        return [e for e in self.events if e.get("event") == name]

    def term(self):
        self.proc.send_signal(signal.SIGTERM)


# ------------------------------------------------------------ SIPp

def sipp_uas(scenario, port=None, extra=()):
    """SIPp answering on `port`; returns (proc, port, dir) once its socket is bound."""
    port = port or free_port(also_udp=True)
    cwd = tempfile.mkdtemp(prefix="tandem-sipp-")
    cmd = ["sipp", "-sf", os.path.join(SIPP_DIR, scenario), "-p", str(port), "-i", "127.0.0.1",
           "-mi", "127.0.0.1", "-mp", str(free_port(also_udp=True)), "-m", "1", "-nostdin",
           "-trace_err", "-timeout", "20", "-timeout_error"] + list(extra)
    p = _spawn(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 5
    while not udp_bound(port):
        if p.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("SIPp did not bind %d: %s" % (port, p.communicate()[0][-1500:]))
        time.sleep(0.02)
    return p, port, cwd


def sipp_uac(scenario, target_port, extra=()):
    cwd = tempfile.mkdtemp(prefix="tandem-sipp-")
    cmd = ["sipp", "127.0.0.1:%d" % target_port, "-sf", os.path.join(SIPP_DIR, scenario),
           "-p", str(free_port(also_udp=True)), "-i", "127.0.0.1", "-mi", "127.0.0.1",
           "-mp", str(free_port(also_udp=True)), "-m", "1", "-nostdin", "-trace_err",
           "-timeout", "20", "-timeout_error"] + list(extra)
    return _spawn(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), cwd


def sipp_ok(proc, cwd, timeout=25, keep=False):
    try:
        out = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
    errors = ""
    for name in os.listdir(cwd):
        if name.endswith("_errors.log"):
            with open(os.path.join(cwd, name), errors="replace") as f:
                errors += f.read()[-1500:]
    assert proc.returncode == 0, ("SIPp failed", proc.returncode, out[-1500:], errors)
    if not keep:
        shutil.rmtree(cwd, ignore_errors=True)


def ended(drive, status, why, timeout=10):
    ev = drive.expect("ended", timeout)
    assert (ev["status"], ev["why"]) == (status, why), (ev, drive.describe())
    return ev


# ------------------------------------------------------------ outgoing calls

def test_out_early_media_answer_and_our_bye():
    sp, port, cwd = sipp_uas("uas_answer_bye.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port, "--hangup-after", 200)
    inv = d.expect("invite")
    assert inv["err"] == 0 and inv["calls"] == 1 and len(inv["call_id"]) == 32, inv
    pr = d.expect("progress")
    assert pr["status"] == 183 and "s=early" in pr["sdp"], pr
    an = d.expect("answered")
    assert an["status"] == 200 and "s=answer" in an["sdp"], an
    assert d.expect("hangup")["err"] == 0
    ev = ended(d, 200, "local")
    assert ev["outgoing"] is True
    d.finish()
    sipp_ok(sp, cwd)   # it got our ACK and our BYE


def test_out_ringing_then_busy():
    sp, port, cwd = sipp_uas("uas_busy.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port)
    assert d.expect("progress")["status"] == 180
    ev = ended(d, 486, "rejected")
    assert ev["phrase"] == "Busy Here", ev
    assert not d.named("answered")
    d.finish()
    sipp_ok(sp, cwd)   # it got the ACK for its 486


def test_out_cancel_after_ringing():
    sp, port, cwd = sipp_uas("uas_cancel.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port, "--cancel-on-ring")
    assert d.expect("progress")["status"] == 180
    assert d.expect("hangup")["err"] == 0
    ended(d, 487, "local")
    d.finish()
    sipp_ok(sp, cwd)   # CANCEL, then the ACK for 487


def test_out_remote_bye():
    sp, port, cwd = sipp_uas("uas_remote_bye.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port)
    d.expect("answered")
    ended(d, 200, "remote-bye")
    d.finish()
    sipp_ok(sp, cwd)   # its BYE got 200


def test_out_forked_answers():
    sp, port, cwd = sipp_uas("uas_fork.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port)
    assert d.expect("progress")["status"] == 180
    pr = d.expect("progress")
    assert pr["status"] == 183 and "o=forkB" in pr["sdp"], pr
    an = d.expect("answered")
    assert "o=forkA" in an["sdp"], an
    ended(d, 200, "remote-bye")
    assert len(d.named("answered")) == 1, d.events   # B's late 2xx is not reported
    d.finish()
    sipp_ok(sp, cwd)   # B's 2xx got ACK and BYE from Sofia; A's BYE got 200


def test_out_via_outbound_proxy():
    # the request URI names a port nobody listens on: only the proxy can
    # have answered, and it must have seen that URI unchanged
    sp, pport, cwd = sipp_uas("uas_answer_bye.xml", extra=["-trace_msg"])
    other = free_port(also_udp=True)
    d = Drive("--proxy", "sip:127.0.0.1:%d" % pport, "--public-host", "gw.example.org", "call",
              "sip:bob@127.0.0.1:%d" % other, "--hangup-after", 100)
    d.expect("answered")
    ended(d, 200, "local")
    d.finish()
    sipp_ok(sp, cwd, keep=True)
    msgs = ""
    for name in os.listdir(cwd):
        if name.endswith("_messages.log"):
            with open(os.path.join(cwd, name), errors="replace") as f:
                msgs += f.read()
    assert "INVITE sip:bob@127.0.0.1:%d SIP/2.0" % other in msgs, msgs[-2000:]
    assert re.search(r"^From: <sip:drive@gw\.example\.org>;tag=", msgs, re.M), msgs[-2000:]
    shutil.rmtree(cwd, ignore_errors=True)


def test_out_tel_uri_needs_and_uses_the_proxy():
    proxy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    proxy.bind(("127.0.0.1", 0))
    proxy.settimeout(5)
    try:
        d = Drive("--proxy", "sip:127.0.0.1:%d" % proxy.getsockname()[1], "check",
                  "tel:+1-555-0100")
        assert d.expect("invite")["err"] == 0
        d.finish()
        first = proxy.recv(65535).decode(errors="replace")
        assert first.startswith("INVITE tel:+1-555-0100 SIP/2.0\r\n"), first
    finally:
        proxy.close()


def test_out_x_headers_pass():
    sp, port, cwd = sipp_uas("uas_xheader.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port, "--display", "Tandem Tester",
              "--header", "X-Tandem-Test: room 42; kind=test", "--header", "X-Second: 2")
    ev = ended(d, 603, "rejected")
    assert ev["phrase"] == "Decline", ev
    d.finish()
    sipp_ok(sp, cwd)   # its regexp checks on both X- headers and From passed


def test_out_bad_requests_fail_locally():
    # a UDP socket stands where the INVITE would go: nothing may reach it
    catcher = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    catcher.bind(("127.0.0.1", 0))
    cport = catcher.getsockname()[1]
    good = "sip:bob@127.0.0.1:%d" % cport
    bad = [
        ["check", "http://127.0.0.1:%d/" % cport],
        ["check", "sip:bob@"],
        ["check", "sip:bob@127.0.0.1:%d?Subject=x" % cport],
        ["check", "sip:bob@127.0.0.1:%d>,<sip:evil@127.0.0.1" % cport],
        ["check", "sip:bob:secret@127.0.0.1:%d" % cport],
        ["check", "sip:bob@127.0.0.1:99999"],
        ["check", "tel:+1-555-0100"],                      # tel: needs the outbound proxy
        ["check", good, "--header", "Subject: not an X- header"],
        ["check", good, "--header", "P-Asserted-Identity: <sip:boss@example.com>"],
        ["check", good, "--header", "X-Ok: a\r\nSubject: injected"],
        ["check", good, "--header", "X-Bad Name: 1"],
        ["check", good, "--from", "a b"],
        ["check", good, "--display", "two\r\nlines"],
    ] + [["check", good] + sum([["--header", "X-H%d: %d" % (i, i)] for i in range(17)], [])]
    try:
        for args in bad:
            d = Drive(*args)
            inv = d.expect("invite")
            assert inv["err"] == EINVAL and inv["call_id"] is None and inv["calls"] == 0, (args,
                                                                                        inv)
            d.finish()
        catcher.setblocking(False)
        try:
            leaked = catcher.recv(65535)
        except BlockingIOError:
            leaked = None
        assert leaked is None, leaked[:300]
        # the same catcher does see a good request (and 16 X- headers are fine)
        d = Drive("check", good, *sum([["--header", "X-H%d: %d" % (i, i)] for i in range(16)], []))
        assert d.expect("invite")["err"] == 0
        d.finish()
        catcher.settimeout(5)
        first = catcher.recv(65535).decode(errors="replace")
        assert first.startswith("INVITE %s SIP/2.0" % good) and "X-H15: 15" in first, first
    finally:
        catcher.close()


def test_out_unreachable_is_network():
    # TCP to a closed port: the connection is refused at once
    dead = free_port()
    d = Drive("call", "sip:bob@127.0.0.1:%d;transport=tcp" % dead)
    ev = d.expect("ended")
    assert ev["why"] == "network" and ev["status"] in (408, 503), (ev, d.describe())
    d.finish()


def test_out_shutdown_ends_live_call():
    sp, port, cwd = sipp_uas("uas_answer_bye.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port, "--shutdown-on-answer")
    d.expect("answered")
    ended(d, 200, "shutdown")
    d.finish()
    sipp_ok(sp, cwd)   # the shutdown sent BYE


def test_out_detach_sends_bye_and_reports_nothing():
    sp, port, cwd = sipp_uas("uas_answer_bye.xml")
    d = Drive("call", "sip:bob@127.0.0.1:%d" % port, "--detach-on-answer")
    d.expect("answered")
    d.expect("detached")
    d.finish()
    assert not d.named("ended"), d.events
    sipp_ok(sp, cwd)   # BYE went out all the same


# ------------------------------------------------------------ incoming calls

def test_in_ring_answer_remote_bye():
    d = Drive("answer", "--ring")
    d.probe()
    sp, cwd = sipp_uac("uac_answer_bye.xml", d.port)
    inc = d.expect("incoming")
    assert inc["ruri_user"] == "alice" and inc["from"].startswith("sip:bob@127.0.0.1"), inc
    assert inc["display"] == 'Bob "the" Caller', inc
    assert inc["to"].startswith("sip:alice@127.0.0.1"), inc
    assert "s=offer" in inc["sdp"], inc
    assert inc["headers"] == [["X-Tandem-Test", "room 42"], ["X-Second", "2"]], inc
    assert d.expect("ringing")["err"] == 0
    assert d.expect("answer")["err"] == 0
    assert d.expect("answer-again")["err"] == EALREADY
    d.expect("ack")
    ev = ended(d, 200, "remote-bye")
    assert ev["outgoing"] is False
    d.finish()
    sipp_ok(sp, cwd)   # 180, 200 with our SDP, 200 for its BYE


def test_in_answer_then_our_bye():
    d = Drive("answer", "--hangup-after", 200)
    d.probe()
    sp, cwd = sipp_uac("uac_wait_bye.xml", d.port)
    d.expect("ack")
    assert d.expect("hangup")["err"] == 0
    ended(d, 200, "local")
    d.finish()
    sipp_ok(sp, cwd)


def test_in_hangup_before_ack_waits_for_it():
    d = Drive("answer", "--bye-before-ack")
    d.probe()
    sp, cwd = sipp_uac("uac_late_ack.xml", d.port)
    assert d.expect("answer")["err"] == 0
    assert d.expect("hangup")["err"] == 0
    ended(d, 200, "local")
    assert not d.named("ack"), d.events     # hung up: no ack callback
    d.finish()
    sipp_ok(sp, cwd)   # ACK first, then our BYE


def test_in_reinvite_refresh_and_change():
    d = Drive("answer")
    d.probe()
    sp, cwd = sipp_uac("uac_reinvite.xml", d.port)
    d.expect("ack")
    ended(d, 200, "remote-bye")
    assert len(d.named("ack")) == 1, d.events
    d.finish()
    sipp_ok(sp, cwd)   # 200 with the same answer, then 488, then BYE answered


def test_in_options_in_dialog():
    """sip/ answers OPTIONS itself (the source check, sip/admit.c): one
    inside a call must still get 200 and leave the call up."""
    d = Drive("answer")
    d.probe()
    sp, cwd = sipp_uac("uac_options_in_dialog.xml", d.port)
    d.expect("ack")
    ended(d, 200, "remote-bye")
    d.finish()
    sipp_ok(sp, cwd)   # 200 for the OPTIONS, then the BYE answered


def test_in_caller_cancels():
    d = Drive("answer", "--ring-only")
    d.probe()
    sp, cwd = sipp_uac("uac_cancel.xml", d.port)
    d.expect("ringing")
    ended(d, 487, "remote-cancel")
    d.finish()
    sipp_ok(sp, cwd)


def test_in_reject_busy():
    d = Drive("answer", "--ring", "--reject", 486)
    d.probe()
    sp, cwd = sipp_uac("uac_busy.xml", d.port)
    assert d.expect("reject")["err"] == 0
    assert d.expect("answer-again")["err"] == EALREADY
    ended(d, 486, "local")
    d.finish()
    sipp_ok(sp, cwd)


def test_in_refusals_by_the_ua():
    # no handler: 480 as before the call layer existed (SIPp's old scenario)
    d = Drive("answer", "--no-handler")
    d.probe()
    sp, cwd = sipp_uac("invite_480.xml", d.port)
    sipp_ok(sp, cwd)
    assert sip_request(d.port, "INVITE", body=SDP)[0] == 480
    d.term()
    d.finish()
    assert not d.named("incoming")
    # the handler's errno becomes the status
    for name, status in (("ENOENT", 404), ("EAGAIN", 480), ("EBUSY", 480), ("EPERM", 403)):
        d = Drive("answer", "--refuse", name)
        d.probe()
        assert sip_request(d.port, "INVITE", body=SDP)[0] == status, name
        d.expect("incoming")
        d.term()
        d.finish()
        assert not d.named("ended")
    # refused before the handler runs
    d = Drive("answer")
    d.probe()
    # an INVITE without SDP is a late offer, taken now (test_early_offer.py)
    assert sip_request(d.port, "INVITE", body="hi", ctype="text/plain")[0] == 415
    assert sip_request(d.port, "INVITE", body=SDP, max_forwards=0)[0] == 483
    # 100rel is supported now (test_early_offer.py); an extension we lack is not
    assert sip_request(d.port, "INVITE", body=SDP, extra="Require: foo-ext\r\n")[0] == 420
    d.term()
    d.finish()
    assert not d.named("incoming"), d.events


def test_methods_nua_refuses():
    d = Drive("answer")
    d.probe()
    for method in ("SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH"):
        status, text = sip_request(d.port, method, extra="Event: presence\r\n")
        assert status == 405, (method, text)
        assert re.search(r"^Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, MESSAGE, "
                         r"UPDATE, PRACK\r?$",
                         text, re.M), text
    # UPDATE (RFC 3311) is taken in a call's dialog only (sip/reinvite.c)
    status, text = sip_request(d.port, "UPDATE")
    assert status == 481, text
    # INFO (DTMF) is taken in a call's dialog only (RFC 6086 4.2.2)
    assert sip_request(d.port, "INFO")[0] == 481
    # MESSAGE comes to us (sip/message.c); sip-drive takes none: 480
    assert sip_request(d.port, "MESSAGE")[0] == 480
    # REGISTER comes to us, to be rate limited per source; we are no registrar
    assert sip_request(d.port, "REGISTER")[0] == 403
    assert sip_request(d.port, "FROB")[0] == 501
    assert sip_request(d.port, "BYE")[0] == 481                          # no such dialog
    d.term()
    d.finish()
    assert not d.named("incoming")


def test_in_shutdown_answers_unanswered_call():
    d = Drive("answer", "--ring-only")
    d.probe()
    sp, cwd = sipp_uac("uac_shutdown.xml", d.port)
    d.expect("ringing")
    d.term()
    ended(d, 503, "shutdown")
    d.finish()
    sipp_ok(sp, cwd)


# ------------------------------------------------------------ baresip

class Baresip:
    """baresip with one auto-answering account and ctrl_tcp (harness.md 6)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tandem-baresip-")
        self.sip_port = free_port(also_udp=True)
        self.ctrl_port = free_port()
        tone = os.path.join(self.dir, "tone.wav")
        w = wave.open(tone, "wb")
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * i / 48)))
                               for i in range(48000)))
        w.close()
        rtp = free_port(also_udp=True)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("sip_listen 127.0.0.1:%d\nnet_interface 127.0.0.1\ndns_server 127.0.0.1:53\n"
                    "audio_source aufile,%s\naudio_player aubridge,sink\n"
                    "audio_alert aubridge,sink\nausrc_srate 48000\nsnd_path %s\n"
                    "rtp_ports %d-%d\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\n"
                    "module aufile.so\nmodule aubridge.so\nmodule_tmp uuid.so\n"
                    "module_tmp account.so\nmodule_app menu.so\nmodule_app ctrl_tcp.so\n"
                    "ctrl_tcp_listen 127.0.0.1:%d\nstatmode_default off\n"
                    % (self.sip_port, tone, self.dir, rtp, rtp + 9, self.ctrl_port))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write("<sip:b@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=pcmu\n"
                    % self.sip_port)
        self.logf = open(os.path.join(self.dir, "baresip.log"), "w")
        self.proc = _spawn(["baresip", "-f", self.dir, "-v"], stdout=self.logf,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.sock = None
        self.buf = b""
        self.events = []
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("baresip did not start: " + self.log())
                time.sleep(0.05)
        status, _ = sip_request(self.sip_port, "OPTIONS", "sip:b@127.0.0.1:%d" % self.sip_port)
        assert status == 200, status

    def log(self):
        with open(os.path.join(self.dir, "baresip.log"), errors="replace") as f:
            return f.read()[-3000:]

    def command(self, cmd, params=None):
        msg = {"command": cmd, "token": "t%d" % random.getrandbits(16)}
        if params is not None:
            msg["params"] = params
        b = json.dumps(msg).encode()
        self.sock.sendall(b"%d:%s," % (len(b), b))

    def expect(self, etype, timeout=10):
        """Next event of type etype (netstring-framed JSON on ctrl_tcp)."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.match(rb"(\d+):", self.buf)
            if m and len(self.buf) >= m.end() + int(m.group(1)) + 1:
                n = int(m.group(1))
                obj = json.loads(self.buf[m.end():m.end() + n])
                self.buf = self.buf[m.end() + n + 1:]
                if obj.get("event"):
                    self.events.append(obj)
                    if obj.get("type") == etype:
                        return obj
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("baresip: no %s; events %s\n%s" % (
                    etype, [e.get("type") for e in self.events], self.log()))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError("baresip closed ctrl_tcp\n" + self.log())
            self.buf += data

    def stop(self):
        try:
            self.command("quit")
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(5)
        finally:
            if self.sock:
                self.sock.close()
            self.logf.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def test_baresip_answers_our_call():
    b = Baresip()
    try:
        d = Drive("call", "sip:b@127.0.0.1:%d" % b.sip_port, "--from", "tandem-user",
                  "--hangup-after", 500)
        an = d.expect("answered")
        assert an["status"] == 200 and "PCMU" in an["sdp"], an
        est = b.expect("CALL_ESTABLISHED")
        assert est["direction"] == "incoming" and "tandem-user@" in est["peeruri"], est
        ended(d, 200, "local")
        b.expect("CALL_CLOSED")
        d.finish()
    finally:
        b.stop()


def test_baresip_calls_us():
    b = Baresip()
    try:
        d = Drive("answer", "--ring", "--hangup-after", 500)
        d.probe()
        b.command("dial", "sip:webuser@127.0.0.1:%d" % d.port)
        inc = d.expect("incoming")
        assert inc["ruri_user"] == "webuser" and inc["from"] == "sip:b@127.0.0.1:%d" % b.sip_port, \
            inc
        assert "m=audio" in inc["sdp"], inc
        d.expect("ack")
        est = b.expect("CALL_ESTABLISHED")
        assert est["direction"] == "outgoing", est
        ended(d, 200, "local")
        b.expect("CALL_CLOSED")
        d.finish()
    finally:
        b.stop()


def _wrap(fn):
    def run():
        try:
            return fn()
        finally:
            _reap()
    run.__name__ = fn.__name__
    return run


if __name__ == "__main__":
    tap_main([_wrap(t) for t in (
        test_out_early_media_answer_and_our_bye, test_out_ringing_then_busy,
        test_out_cancel_after_ringing, test_out_remote_bye, test_out_forked_answers,
        test_out_via_outbound_proxy,
        test_out_tel_uri_needs_and_uses_the_proxy, test_out_x_headers_pass,
        test_out_bad_requests_fail_locally,
        test_out_unreachable_is_network, test_out_shutdown_ends_live_call,
        test_out_detach_sends_bye_and_reports_nothing,
        test_in_ring_answer_remote_bye, test_in_answer_then_our_bye,
        test_in_hangup_before_ack_waits_for_it,
        test_in_reinvite_refresh_and_change,
              test_in_options_in_dialog, test_in_caller_cancels,
        test_in_reject_busy, test_in_refusals_by_the_ua, test_methods_nua_refuses,
        test_in_shutdown_answers_unanswered_call,
        test_baresip_answers_our_call, test_baresip_calls_us)])
