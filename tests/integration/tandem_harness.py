"""Shared pieces of the integration tests: TAP output, free ports, starting
and stopping a real tandem process on loopback, and readiness by probing
(a JSON-RPC ping over a real WebSocket), never by sleeping.

Run with Debian's /usr/bin/python3: websockets, numpy and aiortc come from
Debian's dist-packages."""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import websockets

TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir", "."))
# TANDEM_BIN: another build of the gateway (the ASan one) under the same tests
TANDEM = os.environ.get("TANDEM_BIN") or os.path.join(TOP_BUILDDIR, "tandem")
SUBPROTOCOL = "tandem.v1"


def run_sync(coro):
    """Runs a coroutine to completion, also from inside a running loop (in a
    thread of its own), so Gateway works in both plain and async tests."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box = {}

    def target():
        try:
            box["r"] = asyncio.run(coro)
        except BaseException as e:  # handed back to the caller's thread
            box["e"] = e
    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box.get("r")


def udp_bound(port):
    """Whether some socket of this network namespace is bound to UDP `port`."""
    with open("/proc/net/udp") as f:
        return any(line.split()[1].endswith(":%04X" % port) for line in list(f)[1:])


def wait_udp_bound(proc, port, timeout=5):
    """Returns once `proc` (a SIPp, say) listens on UDP `port`: a request
    sent before that gets ICMP unreachable and the call ends at once. Raises
    when it exited (its port was taken after free_port chose it) or never
    bound."""
    deadline = time.monotonic() + timeout
    while not udp_bound(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("UDP %d never bound (exit %s)" % (port, proc.poll()))
        time.sleep(0.01)


def free_port(kind=socket.SOCK_STREAM, also_udp=False):
    """A port free on 127.0.0.1 (for TCP, and for UDP too when asked)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if also_udp:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                u.close()
        return port
    raise RuntimeError("no free port")


# Child processes a test started and has not stopped yet (gateways, and
# peers that register themselves): tap_main stops whatever is left before
# it exits, so a failed or early-ended test leaves nothing running.
_LIVE = set()


def track(proc):
    """Registers a child process for the exit sweep; returns it."""
    _LIVE.add(proc)
    return proc


class _TrackedPopen(subprocess.Popen):
    """Every child a test process starts (baresip, SIPp, browsers, coturn,
    gateways) is tracked, whichever module starts it: the tests import this
    harness first, and subprocess looks Popen up at call time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _LIVE.add(self)


subprocess.Popen = _TrackedPopen


def sweep():
    """Ends every tracked child still running: SIGTERM, then SIGKILL."""
    for p in list(_LIVE):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        _LIVE.discard(p)


class Gateway:
    """A tandem process with its own config file, ports and log file."""

    def __init__(self, extra="", ws_port=None, sip_port=None, log_level="debug",
                 host="127.0.0.1"):
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="tandem-it-")
        self.ws_port = ws_port or free_port()
        self.sip_port = sip_port or free_port(also_udp=True)
        # two probes can hand out the same free port, and then the second
        # listener fails to start
        while not sip_port and self.sip_port == self.ws_port:
            self.sip_port = free_port(also_udp=True)
        self.conf = os.path.join(self.dir, "tandem.conf")
        self.log = os.path.join(self.dir, "tandem.log")
        self.extra = extra
        self.log_level = log_level
        self.proc = None
        self.write_conf(extra)

    def write_conf(self, extra):
        # a media port block of its own, so gateways of tests running in
        # parallel do not compete for the same ports
        if not hasattr(self, "media_base"):
            import random
            self.media_base = random.randrange(30000, 60000, 200)
        media = "" if "port_min" in extra else \
            "[media]\nport_min = %d\nport_max = %d\n" % (self.media_base,
                                                         self.media_base + 199)
        with open(self.conf, "w") as f:
            f.write(
                "[log]\nlevel = %s\nfile = %s\n[websocket]\nport = %d\n"
                "[sip]\nport = %d\n%s%s\n" % (self.log_level, self.log, self.ws_port,
                                               self.sip_port, media, extra))

    @property
    def scheme(self):
        return "wss" if "cert =" in self.extra else "ws"

    @property
    def url(self):
        return "%s://%s:%d/ws" % (self.scheme, self.host, self.ws_port)

    def start(self, timeout=10):
        self.proc = track(subprocess.Popen([TANDEM, "--config", self.conf],
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tandem exited %d: %s" % (
                    self.proc.returncode, self.read_log()[-2000:]))
            try:
                run_sync(self._probe())
                return self
            except (OSError, asyncio.TimeoutError,
                    websockets.exceptions.WebSocketException):
                time.sleep(0.05)
            except BaseException:
                self.proc.kill()
                self.proc.wait()
                raise
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("tandem did not answer ping in %d s" % timeout)

    async def _probe(self):
        async with self.connect() as ws:
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "ping"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert reply.get("result") == {}, reply

    def connect(self, **kw):
        kw.setdefault("subprotocols", [SUBPROTOCOL])
        kw.setdefault("open_timeout", 3)
        kw.setdefault("max_size", 2 ** 22)
        if self.scheme == "wss":
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            kw.setdefault("ssl", ctx)
        return websockets.connect(self.url, **kw)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("tandem did not stop on SIGTERM within %d s" % timeout)

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        # TANDEM_KEEP_LOGS=dir: keep each gateway's log for a post-mortem
        keep = os.environ.get("TANDEM_KEEP_LOGS")
        if keep and os.path.exists(self.log):
            os.makedirs(keep, exist_ok=True)
            shutil.copy(self.log, os.path.join(keep, "tandem-%d-%d.log" %
                                               (os.getpid(), self.ws_port)))


async def rpc(ws, method, params=None, id_=1, timeout=10):
    """Sends one request and returns the answer with the same id."""
    msg = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        msg["params"] = params
    await ws.send(json.dumps(msg))
    return await recv_id(ws, id_, timeout)


async def recv_id(ws, id_, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no answer for id %r" % (id_,))
        m = json.loads(await asyncio.wait_for(ws.recv(), left))
        if m.get("id") == id_:
            return m


def error_code(m):
    return (m.get("error") or {}).get("code")


def tap_main(tests, cleanup=None):
    """Runs test functions (plain or async), printing TAP; exit 1 on failure.
    `cleanup` runs after the last test (it may fail the run by returning a
    message); then every tracked child still alive is ended."""
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for n, t in enumerate(tests, 1):
        name = t.__name__
        t0 = time.monotonic()
        try:
            r = t()
            if asyncio.iscoroutine(r):
                asyncio.run(r)
            print("ok %d - %s (%.1f s)" % (n, name, time.monotonic() - t0), flush=True)
        except Exception:  # a test's failure of any kind is reported, not raised
            failed += 1
            for line in traceback.format_exc().splitlines():
                print("# " + line)
            print("not ok %d - %s" % (n, name), flush=True)
    if cleanup:
        try:
            why = cleanup()
        except Exception as e:  # a cleanup that raises fails the run, never hangs it
            why = "cleanup raised %r" % e
        if why:
            print("# " + why)
            failed += 1
    sweep()
    sys.stdout.flush()
    sys.stderr.flush()
    # a failed test can leave a peer's thread (aiortc, a reader) behind;
    # sys.exit would wait for it forever and CI with it
    os._exit(1 if failed else 0)
