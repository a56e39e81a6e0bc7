#!/usr/bin/python3
"""Registration and authenticated call set-up benchmark (issue 11 item 10;
docs/benchmarks.md "SIP: 1,000 registrations and digest on every INVITE").

One gateway (log at warning), one Kamailio (harness.md section 8: registrar
with digest, db_text subscribers) and SIPp as the called phone:

1. ACCOUNTS accounts (default 1,000), each its own subscriber at Kamailio,
   are `register`ed over one WebSocket with expires EXPIRES (default 60 s)
   and kept for WINDOW seconds (default 80): Kamailio's location table is
   read every 5 s (Kamailio's own statistics through kamcmd): how many
   contacts it holds, how many expired there (a refresh sent late lets one
   lapse) and how many REGISTERs it accepted (the refreshes).
   Meanwhile a second WebSocket sends `ping` every 20 ms: its round trip
   is what the signalling thread's load does to a browser's requests.
2. Call set-ups through Kamailio, CALLS per round at CONCURRENCY, rounds
   alternating between `sip:callee@kamailio` (Kamailio checks the
   digest: 407 unless the INVITE carries credentials it takes, which the
   gateway sends pre-emptively once the account was challenged) and
   `sip:open@kamailio` (relayed unchallenged), both to the same SIPp UAS.
   How many INVITEs Kamailio challenged is counted from its own xlog lines.
   A set-up is `call` sent to `call.state` answered; each call is hung up
   at once. The pings go on.

Prints numbers and the ratio authenticated / unauthenticated; no
pass/fail. Usage (from the build directory):
  /usr/bin/python3 tests/bench/sipreg_bench.py [ACCOUNTS] [EXPIRES] [WINDOW] [CALLS] [CONCURRENCY]
"""

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
os.environ.setdefault("top_builddir", os.getcwd())
os.environ.setdefault("top_srcdir", os.path.join(HERE, "..", ".."))

import websockets   # noqa: E402

from aiortc_peer import Client, offering_pc   # noqa: E402
from kamailio import Kamailio   # noqa: E402
from tandem_harness import Gateway, free_port   # noqa: E402

AUTH_INVITE = '''		if (!proxy_authorize("$fd", "subscriber")) {
			xlog("L_NOTICE", "INVITE challenged: $fu -> $ru\\n");
			proxy_challenge("$fd", "1");
			exit;
		}
		consume_credentials();'''
OPEN_INVITE = '''		if ($rU != "open") {
			if (!proxy_authorize("$fd", "subscriber")) {
				xlog("L_NOTICE", "INVITE challenged: $fu -> $ru\\n");
				proxy_challenge("$fd", "1");
				exit;
			}
			consume_credentials();
		}'''


ROUNDS = 5


class Ws(Client):
    """aiortc_peer's Client with call.state routed by call and the latest
    registration state kept by account (many calls wait at once here)."""

    def __init__(self, ws):
        self.states, self.regs = {}, {}
        super().__init__(ws)

    async def _read(self):
        async for text in self.ws:
            m = json.loads(text)
            if "id" in m and m["id"] in self.pending:
                self.pending.pop(m["id"]).set_result(m)
            elif m.get("method") == "call.state":
                p = m["params"]
                self.states.setdefault(p["call"], asyncio.Queue()).put_nowait(p)
            elif m.get("method") == "registration":
                p = m["params"]
                self.regs[p["registration"]] = p["state"]

    async def req(self, method, params=None, timeout=30):
        return await self.call(method, params, timeout)

    async def state(self, call, want, timeout=30):
        q = self.states.setdefault(call, asyncio.Queue())
        while True:
            p = await asyncio.wait_for(q.get(), timeout)
            if p["state"] == want:
                return p
            if p["state"] == "ended":
                raise RuntimeError("call ended: %s" % p)


async def connect(gw, user):
    ws = await websockets.connect(gw.url, subprotocols=["tandem.v1"], max_size=2 ** 24)
    c = Ws(ws)
    await c.req("login", {"user": user})
    return c


class Pinger:
    def __init__(self):
        self.rtt, self.stop = [], False

    async def run(self, c):
        while not self.stop:
            t0 = time.monotonic()
            await c.req("ping")
            self.rtt.append((time.monotonic() - t0) * 1000)
            await asyncio.sleep(0.02)

    def take(self):
        r, self.rtt = self.rtt, []
        return r


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def kam_stats(kam):
    """Kamailio's own counts: contacts in its location table, contacts
    that expired there (a refresh came late), REGISTERs it accepted."""
    out = kam.kamcmd("stats.get_statistics", "all", check=False) or ""
    st = dict(re.findall(r"^(\S+) = (\d+)$", out, re.M))
    return (int(st.get("usrloc:location_contacts", -1)),
            int(st.get("usrloc:location_expires", -1)),
            int(st.get("registrar:accepted_regs", -1)))


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def registrations(gw, kam, n, window, pinger):
    c = await connect(gw, "bench")
    t0 = time.monotonic()
    await asyncio.gather(*[c.req("register", {"account": "a%04d" % i}) for i in range(n)])
    while sum(1 for s in c.regs.values() if s == "registered") < n:
        if time.monotonic() - t0 > 120:
            break
        await asyncio.sleep(0.05)
    up_s = time.monotonic() - t0
    ok = sum(1 for s in c.regs.values() if s == "registered")
    set_up_rtt = pinger.take()
    # kamcmd runs in a thread: a blocking call here would stall the pings
    contacts0, expired0, accepted0 = await asyncio.to_thread(kam_stats, kam)
    fewest, failed = contacts0, 0
    end = time.monotonic() + window
    while time.monotonic() < end:
        await asyncio.sleep(5)
        contacts, _, _ = await asyncio.to_thread(kam_stats, kam)
        fewest = min(fewest, contacts)
        failed = max(failed, sum(1 for s in c.regs.values() if s != "registered"))
    contacts, expired, accepted = await asyncio.to_thread(kam_stats, kam)
    refreshes, lapsed = accepted - accepted0, expired - expired0
    return c, {"registered": ok, "set_up_s": up_s, "fewest_contacts": fewest,
               "lapsed": lapsed, "refreshes": refreshes,
               "not_registered_at_worst": failed, "rtt_set_up": set_up_rtt,
               "rtt_window": pinger.take()}


async def one_call(c, to, sdp):
    r = await c.req("call", {"to": to, "sdp": sdp, "account": "a0000"})
    await c.state(r["call"], "answered")
    await c.req("hangup", {"call": r["call"]})
    await c.state(r["call"], "ended")


async def round_of(c, to, sdp, calls, conc):
    sem = asyncio.Semaphore(conc)

    async def run():
        async with sem:
            await one_call(c, to, sdp)

    t0 = time.monotonic()
    await asyncio.gather(*[run() for _ in range(calls)])
    return calls / (time.monotonic() - t0)


async def main(n, expires, window, calls, conc):
    users = {"a%04d" % i: "pw%04d" % i for i in range(n)}
    kam = Kamailio(users, min_expires=10)
    with open(kam.cfg) as f:
        cfg = f.read()
    assert AUTH_INVITE in cfg, "kamailio.py's INVITE block changed: update AUTH_INVITE"
    sipp_port = free_port(also_udp=True)
    lookup = 'if (!lookup("location")) {'
    assert lookup in cfg, "kamailio.py's lookup changed: update the bench"
    with open(kam.cfg, "w") as f:
        # callee and open are the SIPp phone, whatever the location table says
        f.write(cfg.replace(AUTH_INVITE, OPEN_INVITE).replace(
            lookup, 'if ($rU == "callee" || $rU == "open") {\n\t\t$du = "sip:127.0.0.1:%d";\n'
            '\t} else %s' % (sipp_port, lookup)))
    kam.start()
    sipp = subprocess.Popen(
        ["sipp", "-sn", "uas", "-p", str(sipp_port), "-i", "127.0.0.1", "-nostdin",
         "-mp", str(free_port(also_udp=True))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=tempfile.mkdtemp(prefix="tandem-sipp-"))
    accounts = "".join(
        "a%04d.uri = sip:a%04d@127.0.0.1\na%04d.registrar = %s\na%04d.password = pw%04d\n"
        "a%04d.expires = %d\na%04d.users = bench\n" % (i, i, i, kam.uri, i, i, i, expires, i)
        for i in range(n))
    extra = ("[websocket]\nrate = 100000\nburst = 100000\n"
             "[calls]\nrate = 10000\nburst = 10000\nmax_per_connection = 10000\n"
             "max_per_user = 100000\nmax_ringing = 100000\nmax_ringing_per_user = 1000\n"
             "[media]\nport_min = 20000\nport_max = 29999\n"
             "[sip]\ntrusted = 127.0.0.1\nregister_retry_max = 10\n[accounts]\n" + accounts)
    pc, _ = await offering_pc("PCMU")
    sdp = pc.localDescription.sdp
    await pc.close()
    try:
        with Gateway(extra, log_level="warn") as gw:
            pc_ws = await connect(gw, "pinger")
            pinger = Pinger()
            ping_task = asyncio.ensure_future(pinger.run(pc_ws))
            c, reg = await registrations(gw, kam, n, window, pinger)
            print("# %d accounts at Kamailio with digest, expires %d s, kept %d s" % (
                n, expires, window))
            print("| figure | value |\n| --- | ---: |")
            print("| registered | %d of %d |" % (reg["registered"], n))
            print("| time to register them all | %.1f s (%.0f/s) |" % (
                reg["set_up_s"], reg["registered"] / reg["set_up_s"]))
            print("| fewest contacts at Kamailio while kept | %d |" % reg["fewest_contacts"])
            print("| contacts that expired at Kamailio (a late refresh) | %d |" % reg["lapsed"])
            print("| REGISTERs Kamailio accepted while kept (refreshes) | %d |" %
                  reg["refreshes"])
            print("| most registrations not `registered` at once | %d |" %
                  reg["not_registered_at_worst"])
            for what, xs in (("while registering", reg["rtt_set_up"]),
                             ("while kept", reg["rtt_window"])):
                print("| ping round trip %s, p50 / p99 / max | %.1f / %.1f / %.1f ms (%d) |" % (
                    what, pct(xs, 50), pct(xs, 99), max(xs or [0]), len(xs)))
            sys.stdout.flush()
            rates = {"auth": [], "open": []}
            cpu = {"auth": 0.0, "open": 0.0}
            # warm-up round, not counted
            await round_of(c, "sip:open@%s" % kam.hostport, sdp, min(calls, 50), conc)
            pinger.take()
            challenged0 = kam.read_log().count("INVITE challenged:")
            for _ in range(ROUNDS):
                for kind, user in (("auth", "callee"), ("open", "open")):
                    c0 = cpu_s(gw.proc.pid)
                    rates[kind].append(await round_of(
                        c, "sip:%s@%s" % (user, kam.hostport), sdp, calls, conc))
                    cpu[kind] += cpu_s(gw.proc.pid) - c0
            # Kamailio's own count: with pre-emptive digest an INVITE is
            # challenged only when the account's cached nonce is refused
            challenged = kam.read_log().count("INVITE challenged:") - challenged0
            rtt_calls = pinger.take()
            pinger.stop = True
            await ping_task
            print("\n# call set-ups through Kamailio, %d per round at %d in flight, %d rounds "
                  "each, alternating; %d registrations kept meanwhile" % (calls, conc, ROUNDS, n))
            print("| INVITE | set-ups/s per round | median | gateway CPU per set-up |")
            print("| --- | --- | ---: | ---: |")
            for kind, label in (("auth", "407, answered with digest"),
                                ("open", "unchallenged")):
                print("| %s | %s | %.1f | %.2f ms |" % (
                    label, " / ".join("%.1f" % r for r in rates[kind]),
                    statistics.median(rates[kind]), cpu[kind] * 1000 / (ROUNDS * calls)))
            print("# authenticated / unauthenticated set-up rate: %.2f; gateway CPU per "
                  "set-up, unauthenticated / authenticated: %.2f" % (
                      statistics.median(rates["auth"]) / statistics.median(rates["open"]),
                      cpu["open"] / cpu["auth"]))
            print("# INVITEs Kamailio challenged (407) in the authenticated rounds: %d of %d" % (
                challenged, ROUNDS * calls))
            print("# ping round trip during the calls, p50 / p99 / max: %.1f / %.1f / %.1f ms "
                  "(%d)" % (pct(rtt_calls, 50), pct(rtt_calls, 99), max(rtt_calls or [0]),
                            len(rtt_calls)))
            la = os.getloadavg()
            print("# load average at the end: %.1f" % la[0])
    finally:
        sipp.kill()
        sipp.wait()
        kam.stop()


if __name__ == "__main__":
    a = [int(x) for x in sys.argv[1:]]
    d = [1000, 60, 80, 200, 20]
    a += d[len(a):]
    asyncio.run(main(*a))
