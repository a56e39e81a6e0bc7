"""SIP transports and NAT (issue 11 item 7) with real peers: calls over TLS
and TCP both ways between python3-aiortc (the browser) and baresip, each
side asserting on the tone it heard (1 kHz from the browser, 440 Hz from
baresip); a TLS server whose certificate is not signed by [sip] tls_ca is
refused, and so is one our CA signed for another host name (the call ends
503 and baresip never sees an INVITE); and a raw TCP
listener posing as a proxy reads what the gateway sent: [sip] external_address
in Contact, Via and the SDP c= line, then RFC 5626 CRLF keep-alives on the
idle flow; and the TCP connection guards hold on the TLS port. The
certificates are made with the openssl CLI at test time.
One gateway serves the TLS and TCP calls; the NAT check has its own."""

import asyncio
import os
import re
import socket
import ssl
import subprocess
import tempfile
import time

from aiortc import RTCSessionDescription

from aiortc_peer import Client, Recorder, ToneTrack, new_pc, offering_pc
from peers import Baresip, assert_tone, tones
from tandem_harness import Gateway, free_port, tap_main
from test_abuse_sip import connect as tcp_connect

import websockets

MEDIA_SECONDS = 2.5
EXTERNAL = "203.0.113.7"        # TEST-NET-3: in no route of the machine


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_pki():
    """A CA with a server and a client certificate for 127.0.0.1, one of
    its certificates for another name only (wrongname), and a rogue CA with
    its own certificate for 127.0.0.1. Returns a dict of paths; *_full files
    hold certificate and key (baresip's sip_certificate)."""
    d = tempfile.mkdtemp(prefix="tandem-pki-")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    with open(os.path.join(d, "wrongname.cnf"), "w") as f:
        f.write("subjectAltName=DNS:sip.other.example\n")
    for ca in ("ca", "rogue_ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                "-out", ca + ".pem", "-days", "2", "-subj", "/CN=Tandem test " + ca, cwd=d)
    for name, ca in (("gw", "ca"), ("peer", "ca"), ("rogue", "rogue_ca"), ("wrongname", "ca")):
        wrong = name == "wrongname"
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=sip.other.example" if wrong else "/CN=127.0.0.1",
                cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                ca + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "2",
                "-extfile", "wrongname.cnf" if wrong else "ext.cnf", cwd=d)
        with open(os.path.join(d, name + "_full.pem"), "w") as f:
            for part in (".pem", ".key"):
                with open(os.path.join(d, name + part)) as g:
                    f.write(g.read())
    paths = {k: os.path.join(d, k + ".pem") for k in
             ("ca", "rogue_ca", "gw", "peer_full", "rogue_full", "wrongname_full")}
    paths["gw_key"] = os.path.join(d, "gw.key")
    return paths


PKI = None
GW = None


def pki():
    global PKI
    if PKI is None:
        PKI = make_pki()
    return PKI


def gateway():
    """The TLS + TCP gateway shared by the call tests (started once)."""
    global GW
    if GW is None:
        p = pki()
        tls_port = free_port()
        # no "cert =" (with spaces) in the text: Gateway takes that for a
        # [websocket] cert and would speak wss
        GW = Gateway("[sip]\ntls = true\ntls_port = %d\ntls_cert=%s\ntls_key = %s\n"
                     "tls_ca = %s\n" % (tls_port, p["gw"], p["gw_key"], p["ca"]))
        GW.tls_port = tls_port
        GW.start()
    return GW


async def connect(gw, user="alice"):
    ws = await websockets.connect(gw.url, subprotocols=["tandem.v1"], max_size=2 ** 22)
    c = Client(ws)
    await c.call("login", {"user": user})
    return c


async def counters_zero(c, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        s = (await c.call("stats"))["calls"]
        if all(s[k] == 0 for k in ("calls", "sip_dialogs", "bridges", "media_legs",
                                   "media_ports")):
            return s
        if time.monotonic() > deadline:
            raise AssertionError("resources left behind: %s" % s)
        await asyncio.sleep(0.1)


def baresip(tls=None):
    return Baresip("b", source_wav=os.path.join(tones(), "tone440_48k.wav"),
                   codecs="pcmu", tls=tls).start()


async def browser_calls(to, b, flow_port):
    """aiortc calls `to` (baresip) through the gateway; both hear the other,
    and the signalling runs on a TCP connection with flow_port at one end."""
    gw = gateway()
    c = await connect(gw)
    pc, rec = await offering_pc("PCMU", record=True)
    r = await c.call("call", {"to": to, "sdp": pc.localDescription.sdp})
    call = r["call"]
    await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
    st = await c.wait_state(call, "answered")
    assert st["code"] == 200, st
    b.wait_event("CALL_ESTABLISHED")
    assert tcp_flows(flow_port) >= 1, "no TCP connection on port %d" % flow_port
    await asyncio.sleep(MEDIA_SECONDS)
    await c.call("hangup", {"call": call})
    await c.wait_state(call, "ended")
    b.wait_event("CALL_CLOSED")
    rec.stop()
    await pc.close()
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 1.5, "aiortc received")
    await counters_zero(c)
    await c.close()


async def phone_calls(to, b, flow_port):
    """baresip calls the browser user `to` through the gateway; aiortc
    answers; both hear the other, over a TCP connection to flow_port."""
    gw = gateway()
    c = await connect(gw, "alice")
    b.dial(to)
    inc = (await c.wait_note(lambda m: m["method"] == "incoming"))["params"]
    assert inc["to"].startswith("sip:alice@") and "sip:b@" in inc["from"], inc
    pc, rec = new_pc(), Recorder()
    pc.on("track", lambda t: rec.start(t))
    await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
    pc.addTrack(ToneTrack(1000))
    await pc.setLocalDescription(await pc.createAnswer())
    await c.call("answer", {"call": inc["call"], "sdp": pc.localDescription.sdp})
    await c.wait_state(inc["call"], "answered")
    b.wait_event("CALL_ESTABLISHED")
    assert tcp_flows(flow_port) >= 1, "no TCP connection on port %d" % flow_port
    await asyncio.sleep(MEDIA_SECONDS)
    b.hangup()
    await c.wait_state(inc["call"], "ended")
    rec.stop()
    await pc.close()
    x, rate = rec.samples()
    assert_tone(x, rate, 440, 1.5, "aiortc received")
    await counters_zero(c)
    await c.close()


def baresip_heard_1k(b):
    x, rate = b.received()
    assert_tone(x, rate, 1000, 1.5, "baresip received")


def tcp_flows(port):
    """Established TCP connections on loopback to or from `port` (ss): the
    call's signalling went over TCP or TLS only if one is up."""
    out = subprocess.run(["ss", "-Htn", "state", "established", "( dport = :%d or "
                          "sport = :%d )" % (port, port)], capture_output=True,
                         text=True, check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


async def test_browser_calls_baresip_over_tls():
    """sip:...;transport=tls: the INVITE reaches baresip over TLS (its Via
    says TLS), the gateway verified baresip's certificate against tls_ca, and
    the tones cross both ways."""
    p = pki()
    b = baresip((p["peer_full"], p["ca"]))
    try:
        await browser_calls(b.uri_tls, b, b.sip_port + 1)
    finally:
        b.stop()
    baresip_heard_1k(b)


async def test_baresip_calls_browser_over_tls():
    """baresip dials the browser user at the gateway's tls_port; it checks
    the gateway's certificate against the same CA; the call is answered and
    the tones cross both ways."""
    p = pki()
    b = baresip((p["peer_full"], p["ca"]))
    try:
        gw = gateway()
        await phone_calls("sip:alice@127.0.0.1:%d;transport=tls" % gw.tls_port, b, gw.tls_port)
    finally:
        b.stop()
    baresip_heard_1k(b)


async def test_untrusted_tls_server_refused():
    """tls_verify (default on): a TLS peer whose certificate another CA
    signed gets no INVITE; the browser's call ends with 503 at once, and
    nothing is left counted."""
    p = pki()
    await tls_refused(p["rogue_full"], p["rogue_ca"])


async def test_tls_server_of_another_name_refused():
    """A certificate our CA signed, but for sip.other.example only, on the
    peer at 127.0.0.1: the host name is checked too (RFC 5922), so the same
    503 and no INVITE."""
    p = pki()
    await tls_refused(p["wrongname_full"], p["ca"])


async def tls_refused(cert, ca):
    b = baresip((cert, ca))
    try:
        gw = gateway()
        c = await connect(gw)
        pc, _ = await offering_pc("PCMU")
        r = await c.request("call", {"to": b.uri_tls, "sdp": pc.localDescription.sdp})
        if "error" not in r:
            st = await c.wait_state(r["result"]["call"], "ended", timeout=20)
            assert st.get("code") == 503, st
        else:
            raise AssertionError("call refused up front: %s" % r)
        await pc.close()
        await counters_zero(c)
        # baresip's ctrl_tcp would have reported an incoming call
        b.command("reginfo")
        kinds = [e.get("type") for e in b.events]
        assert not any(k and k.startswith("CALL_") for k in kinds), kinds
        assert "INVITE sip:" not in b.read_log()
        await c.close()
    finally:
        b.stop()


async def test_tcp_both_ways():
    """;transport=tcp: the browser calls baresip over TCP, then baresip calls
    the browser user over TCP; tones both ways each time."""
    b = baresip()
    try:
        await browser_calls(b.uri + ";transport=tcp", b, b.sip_port)
        baresip_heard_1k(b)
        gw = gateway()
        await phone_calls("sip:alice@127.0.0.1:%d;transport=tcp" % gw.sip_port, b, gw.sip_port)
    finally:
        b.stop()
    baresip_heard_1k(b)


def read_request(conn, timeout):
    """One SIP request (headers and body) from a stream socket."""
    conn.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        assert chunk, "connection closed before a request came"
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = int(re.search(rb"(?im)^(?:Content-Length|l)\s*:\s*(\d+)", head).group(1))
    while len(rest) < n:
        rest += conn.recv(65536)
    return head.decode(), rest[:n].decode(), rest[n:]


def header(head, name):
    m = re.search(r"(?im)^%s\s*:\s*(.*)$" % name, head)
    return m.group(1).strip() if m else ""


def respond(conn, head, status):
    lines = ["SIP/2.0 %s" % status]
    for h in ("Via", "From", "To", "Call-ID", "CSeq"):
        lines.append("%s: %s" % (h, header(head, h)))
    conn.sendall(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())


async def test_external_address_and_crlf_keepalive():
    """A gateway with [sip] external_address and keepalive = 1 calls a raw
    TCP listener posing as a proxy: the INVITE's Contact and Via sent-by and
    its SDP c= line carry the external address (and Via asks for rport);
    after a 100 Trying the flow stays quiet but for CRLF CRLF keep-alives
    (RFC 5626 section 4.4.1), at least two within 3.5 s."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    port = ls.getsockname()[1]
    with Gateway("[sip]\nexternal_address = %s\nkeepalive = 1\n" % EXTERNAL) as gw:
        c = await connect(gw)
        pc, _ = await offering_pc("PCMU")
        r = await c.call("call", {"to": "sip:proxy@127.0.0.1:%d;transport=tcp" % port,
                                  "sdp": pc.localDescription.sdp})
        loop = asyncio.get_running_loop()
        ls.settimeout(10)
        conn, _ = await loop.run_in_executor(None, ls.accept)
        head, body, extra = await loop.run_in_executor(None, read_request, conn, 10)
        assert head.startswith("INVITE sip:proxy@127.0.0.1"), head
        assert EXTERNAL in header(head, "Contact"), head
        via = header(head, "Via")
        assert via.startswith("SIP/2.0/TCP %s" % EXTERNAL) and "rport" in via, via
        assert "c=IN IP4 %s" % EXTERNAL in body, body
        respond(conn, head, "100 Trying")

        def pings():
            got, data = 0, extra
            end = time.monotonic() + 3.5
            conn.settimeout(0.2)
            while time.monotonic() < end and got < 2:
                try:
                    chunk = conn.recv(4096)
                except socket.timeout:
                    continue
                assert chunk, "the gateway closed the flow"
                data += chunk
                got = data.count(b"\r\n\r\n")
            return data
        data = await loop.run_in_executor(None, pings)
        assert data.count(b"\r\n\r\n") >= 2 and not data.strip(b"\r\n"), data
        await c.call("hangup", {"call": r["call"]})
        # CANCEL comes on the same flow; answer it and the INVITE
        head2, _, _ = await loop.run_in_executor(None, read_request, conn, 10)
        assert head2.startswith("CANCEL "), head2
        respond(conn, head2, "200 OK")
        respond(conn, head, "487 Request Terminated")
        st = await c.wait_state(r["call"], "ended")
        assert st["code"] == 487, st
        await pc.close()
        await counters_zero(c)
        conn.close()
        await c.close()
    ls.close()


def closed_by_peer(s):
    """Whether the gateway has closed this client socket (EOF or reset)."""
    s.settimeout(0)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def tls_options(port, ca):
    """An OPTIONS over a verified TLS connection: the status line back."""
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), 5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;"
                       "branch=z9hG4bK7\r\nFrom: <sip:p@127.0.0.1>;tag=1\r\nTo: "
                       "<sip:x@127.0.0.1>\r\nCall-ID: 7@p\r\nCSeq: 1 OPTIONS\r\n"
                       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode())
            return s.recv(4096).split(b"\r\n")[0].decode()


async def test_tls_connection_guards():
    """sip/tcp.c's guards hold on the TLS port: 12 connections from one
    untrusted address are cut to tcp_max_per_source (4) within a sweep, the
    rest (silent: no handshake) go after tcp_idle_timeout, and a real TLS
    client still gets 200 to OPTIONS."""
    p = pki()
    tls_port = free_port()
    conf = ("[sip]\ntrusted = 127.0.0.1\ntcp_idle_timeout = 2\ntcp_max_per_source = 4\n"
            "tls = true\ntls_port = %d\ntls_cert=%s\ntls_key = %s\ntls_ca = %s\n" %
            (tls_port, p["gw"], p["gw_key"], p["ca"]))
    with Gateway(conf):
        held = [tcp_connect(tls_port, "127.0.0.9") for _ in range(12)]
        try:
            await asyncio.sleep(1.5)
            open_ = [s for s in held if not closed_by_peer(s)]
            assert len(open_) <= 4, "%d connections left from one source" % len(open_)
            deadline = time.monotonic() + 6
            while open_ and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                open_ = [s for s in open_ if not closed_by_peer(s)]
            assert not open_, "%d silent TLS connections outlived the idle timeout" % \
                len(open_)
            status = await asyncio.get_running_loop().run_in_executor(
                None, tls_options, tls_port, p["ca"])
            assert status == "SIP/2.0 200 OK", status
        finally:
            for s in held:
                s.close()


def cleanup():
    if GW:
        GW.__exit__(None, None, None)


if __name__ == "__main__":
    tap_main([test_browser_calls_baresip_over_tls, test_baresip_calls_browser_over_tls,
              test_untrusted_tls_server_refused, test_tls_server_of_another_name_refused,
              test_tcp_both_ways,
              test_external_address_and_crlf_keepalive, test_tls_connection_guards], cleanup)
