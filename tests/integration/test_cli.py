"""The tandem process as an operator meets it: command line, configuration
checking with file/line/key errors, the generated example file, password
hashing, structured logs, SIGHUP reload (good and bad files), SIGTERM
shutdown that closes WebSockets with 1001, and the SIP listener on UDP and
TCP answering a real SIP peer (SIPp)."""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from tandem_harness import (Gateway, TANDEM, TOP_SRCDIR, error_code, free_port, rpc,
                            run_sync, tap_main)

SIPP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sipp")


def run(args, **kw):
    return subprocess.run([TANDEM] + args, capture_output=True, text=True, timeout=30, **kw)


def write(text):
    fd, path = tempfile.mkstemp(prefix="tandem-cli-", suffix=".conf")
    os.write(fd, text.encode())
    os.close(fd)
    return path


def test_version_and_help():
    r = run(["--version"])
    assert r.returncode == 0 and re.match(r"tandem \d+\.\d+\.\d+ \(libsrtp2 backend openssl\)",
                                          r.stdout), r
    r = run(["--help"])
    assert r.returncode == 0
    for word in ("--config", "--check-config", "[websocket]", "max_pending_kib", "[users]",
                 "SIGHUP"):
        assert word in r.stdout, word
    r = run(["--bogus"])
    assert r.returncode == 2 and "Usage" in r.stderr, r


def test_check_config():
    good = write("[websocket]\nport = 9999\n")
    r = run(["--config", good, "--check-config"])
    assert r.returncode == 0 and "configuration ok" in r.stdout, r
    bad = write("[websocket]\nport = 9999\n\n[sip]\nudp = perhaps\n")
    r = run(["--config", bad, "--check-config"])
    assert r.returncode == 2, r
    assert r.stderr.strip() == "tandem: %s:5: [sip] udp: 'perhaps' is not a boolean " \
        "(true or false)" % bad, r.stderr
    unknown = write("[sip]\ntransport = udp\n")
    r = run(["-t", "-c", unknown])
    assert r.returncode == 2 and "%s:2: [sip] transport: unknown key" % unknown in r.stderr, r
    r = run(["--check-config", "--config", "/nonexistent.conf"])
    assert r.returncode == 2 and "/nonexistent.conf" in r.stderr, r
    r = run(["--check-config"])
    assert r.returncode == 0 and "(embedded default)" in r.stdout, r


def test_example_config_is_current_and_valid():
    path = os.path.join(TOP_SRCDIR, "conf", "tandem.conf.example")
    with open(path) as f:
        committed = f.read()
    r = run(["--print-example-config"])
    assert r.returncode == 0
    assert r.stdout == committed, "conf/tandem.conf.example is stale: run make example-config"
    r = run(["--config", path, "--check-config"])
    assert r.returncode == 0, r
    # every key of the table is documented in the file
    keys = re.findall(r"^(\w+) = ", committed, re.M)
    assert len(keys) >= 15 and "token_lifetime" in keys, keys


def test_hash_password_round_trip():
    r = run(["--hash-password"], input="pa ss\n")
    assert r.returncode == 0, r
    h = r.stdout.strip()
    assert h.startswith("pbkdf2-sha256$200000$"), h
    assert run(["--hash-password"], input="pa ss\n").stdout.strip() != h   # salted
    r = run(["--hash-password"], input="\n")
    assert r.returncode == 2
    with Gateway("[auth]\nmode = users\n[users]\nbob = %s\n" % h) as gw:
        async def go():
            async with gw.connect() as ws:
                assert error_code(await rpc(ws, "login", {"user": "bob", "password": "pass"})) \
                    == 401
                m = await rpc(ws, "login", {"user": "bob", "password": "pa ss"}, id_=2)
                assert m["result"]["user"] == "bob", m
        run_sync(go())


def test_structured_log_lines():
    with Gateway() as gw:
        pass
    lines = [l for l in gw.read_log().splitlines() if l]
    assert lines, "no log"
    pat = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(error|warn|notice|info|'
                     r'debug) mod=\w+ call=\S+ msg="([^"\\]|\\.)*"$')
    for l in lines:
        assert pat.match(l), l
    assert any("ready" in l for l in lines)


def test_sigterm_closes_websockets_1001():
    gw = Gateway().start()

    async def go():
        async with gw.connect() as ws:
            assert (await rpc(ws, "ping"))["result"] == {}
            t0 = time.monotonic()
            gw.signal(signal.SIGTERM)
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 1001, ws.close_code
            return time.monotonic() - t0
    took = run_sync(go())
    assert gw.proc.wait(10) == 0
    assert took < 2, took
    # the ports are free again
    for kind, port in ((socket.SOCK_STREAM, gw.ws_port), (socket.SOCK_STREAM, gw.sip_port),
                       (socket.SOCK_DGRAM, gw.sip_port)):
        s = socket.socket(socket.AF_INET, kind)
        if kind == socket.SOCK_STREAM:
            # as servers do: a TIME_WAIT left by closed connections is no listener
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        if kind == socket.SOCK_STREAM:
            s.listen()
        s.close()
    assert "stopped" in gw.read_log()


def test_sighup_reload():
    gw = Gateway().start()
    try:
        async def login(user, password):
            async with gw.connect() as ws:
                return await rpc(ws, "login", {"user": user, "password": password})
        h = run(["--hash-password"], input="s3\n").stdout.strip()
        # auth none: any name logs in
        assert "result" in run_sync(login("zed", "x"))
        # switch to users: zed is gone, carol comes in
        gw.write_conf("[auth]\nmode = users\n[users]\ncarol = %s\n" % h)
        gw.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "reloaded" not in gw.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert error_code(run_sync(login("zed", "x"))) == 401
        assert run_sync(login("carol", "s3"))["result"]["user"] == "carol"
        # a broken file is refused and the running configuration stays
        with open(gw.conf, "a") as f:
            f.write("[auth]\nnonsense = 1\n")
        gw.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "reload refused" not in gw.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = gw.read_log()
        assert "reload refused" in log and "[auth] nonsense: unknown key" in log, log[-800:]
        assert run_sync(login("carol", "s3"))["result"]["user"] == "carol"
        assert gw.proc.poll() is None
    finally:
        assert gw.stop() == 0


def sipp(gw, scenario, transport):
    cmd = ["sipp", "127.0.0.1:%d" % gw.sip_port, "-sf", os.path.join(SIPP_DIR, scenario),
           "-m", "1", "-nostdin", "-i", "127.0.0.1", "-p", str(free_port(also_udp=True)),
           "-mi", "127.0.0.1", "-mp", str(free_port(also_udp=True)), "-t", transport,
           "-timeout", "10", "-timeout_error"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          cwd=tempfile.mkdtemp(prefix="tandem-sipp-"))


def test_sip_options_udp_and_tcp():
    with Gateway() as gw:
        for t in ("u1", "t1"):
            r = sipp(gw, "options.xml", t)
            assert r.returncode == 0, (t, r.stdout[-1500:], r.stderr[-1500:])


def test_sip_invite_offline_user_480():
    with Gateway() as gw:
        r = sipp(gw, "invite_480.xml", "u1")
        assert r.returncode == 0, (r.stdout[-1500:], r.stderr[-1500:])


def test_start_fails_cleanly_on_busy_port():
    with Gateway() as gw:
        other = Gateway(ws_port=gw.ws_port)
        p = subprocess.run([TANDEM, "--config", other.conf], capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == 1, p
        assert "start-up failed" in other.read_log(), other.read_log()


if __name__ == "__main__":
    tap_main([test_version_and_help, test_check_config, test_example_config_is_current_and_valid,
              test_hash_password_round_trip, test_structured_log_lines,
              test_sigterm_closes_websockets_1001, test_sighup_reload,
              test_sip_options_udp_and_tcp, test_sip_invite_offline_user_480,
              test_start_fails_cleanly_on_busy_port])
