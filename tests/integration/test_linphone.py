"""linphone (Debian linphone-cli, liblinphone 5.1) as the SIP phone through
Kamailio (issue 11 item 9): linphonec registers as carol at Kamailio, the
browser side (aiortc) registers alice's account through Tandem. linphone
calls alice at Kamailio (it answers Kamailio's 407 itself) and the call
rings the browser through the registration; then the browser calls carol
as alice's account and linphone answers by itself (-a). Each call asserts
on what arrived: the browser hears linphone's 440 Hz, linphone's recording
holds the browser's 1 kHz; and the browser's hangup ends linphone's call
(linphonec says so before the test's own `terminate`). Runs in a private network namespace, where
liblinphone advertises 127.0.0.1 (harness.md section 7); linphonec is fed
commands on its stdin, which stays open."""

import os
import sys

import netns

if __name__ == "__main__":
    netns.enter()

import asyncio   # noqa: E402
import shutil   # noqa: E402
import subprocess   # noqa: E402
import tempfile   # noqa: E402
import time   # noqa: E402

from aiortc import RTCSessionDescription   # noqa: E402

from aiortc_peer import Recorder, ToneTrack, new_pc, offering_pc   # noqa: E402
from kamailio import Kamailio   # noqa: E402
from peers import assert_tone, read_wav, tones   # noqa: E402
from tandem_harness import Gateway, free_port, tap_main, track   # noqa: E402
from test_register import USERS, connect, gw_conf, register   # noqa: E402

RC = """[sip]
sip_port=%(port)d
sip_tcp_port=-1
sip_tls_port=-1
use_ipv6=0
bind_address=127.0.0.1
use_rfc2833=1
use_info=0
[rtp]
audio_rtp_port=%(rtp)d
[sound]
echocancellation=0
[video]
enabled=0
capture=0
display=0
[net]
auto_net_state_mon=0
[proxy_0]
reg_proxy=<%(registrar)s>
reg_identity=sip:carol@127.0.0.1
reg_expires=600
reg_sendregister=1
[auth_info_0]
username=carol
passwd=carolpw
realm=127.0.0.1
domain=127.0.0.1
"""


# linphonec's line when a call ends ("Call 1 with sip:... ended (No error)."),
# whoever ended it: the tests wait for it before their own `terminate`
LP_ENDED = " ended ("


class Linphone:
    """linphonec with its own HOME and rc, commands on stdin, output read
    for the lines the test waits on."""

    def __init__(self, registrar, auto_answer=False):
        self.dir = tempfile.mkdtemp(prefix="tandem-lp-")
        self.rc = os.path.join(self.dir, "rc")
        # without its database folder liblinphone's core never starts
        os.makedirs(os.path.join(self.dir, ".local", "share", "linphone"))
        self.port = free_port(also_udp=True)
        with open(self.rc, "w") as f:
            f.write(RC % {"port": self.port, "rtp": free_port(also_udp=True),
                          "registrar": registrar})
        self.out = os.path.join(self.dir, "stdout")
        self.rx = os.path.join(self.dir, "rx.wav")
        env = dict(os.environ, HOME=self.dir)
        self.outf = open(self.out, "wb")
        self.proc = track(subprocess.Popen(
            # line-buffered: its call-state lines are what the test waits on
            ["timeout", "-k", "5", "60", "stdbuf", "-oL", "linphonec", "-c", self.rc, "-d", "4", "-l",
             os.path.join(self.dir, "debug.log")] + (["-a"] if auto_answer else []),
            stdin=subprocess.PIPE, stdout=self.outf, stderr=subprocess.STDOUT, env=env,
            cwd=self.dir))

    def cmd(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def text(self):
        with open(self.out, errors="replace") as f:
            return f.read()

    async def wait_for(self, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("linphone never said %r: %s" % (needle,
                                                                   self.text()[-1500:]))
            await asyncio.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.cmd("terminate")
                self.cmd("quit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.outf.close()

    def received(self):
        return read_wav(self.rx)


async def start_phone(kam, auto_answer=False):
    # the account is in the rc: linphonec 5.1's `register` command makes an
    # account that never sends a REGISTER
    lp = Linphone(kam.uri, auto_answer)
    lp.cmd("soundcard use files")
    lp.cmd("play %s" % os.path.join(tones(), "tone440_8k.wav"))
    lp.cmd("record %s" % lp.rx)
    deadline = time.monotonic() + 15
    while not kam.contacts("carol"):
        if time.monotonic() > deadline:
            raise AssertionError("linphone did not register: " + lp.text()[-1500:])
        await asyncio.sleep(0.1)
    return lp


async def test_linphone_calls_browser():
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam)) as gw:
        c = await connect(gw)
        n = await register(c)
        assert n["state"] == "registered", n
        lp = await start_phone(kam)
        pc, rec = new_pc(), Recorder()
        pc.on("track", lambda t: rec.start(t))
        try:
            lp.cmd("call sip:alice@%s" % kam.hostport)
            inc = (await c.wait_note(lambda m: m["method"] == "incoming", 20))["params"]
            await pc.setRemoteDescription(RTCSessionDescription(inc["sdp"], "offer"))
            pc.addTrack(ToneTrack(1000))
            await pc.setLocalDescription(await pc.createAnswer())
            await c.call("answer", {"call": inc["call"], "sdp": pc.localDescription.sdp})
            await c.wait_state(inc["call"], "answered")
            await lp.wait_for("connected")
            await asyncio.sleep(4.5)
            await c.call("hangup", {"call": inc["call"]})
            await c.wait_state(inc["call"], "ended")
            # our BYE reached linphone through Kamailio's route, past its
            # challenge (answered with alice's registration credentials);
            # nothing else ends linphone's call before lp.stop()
            await lp.wait_for(LP_ENDED, 10)
        finally:
            rec.stop()
            await pc.close()
            lp.stop()
        x, rate = rec.samples()
        assert_tone(x, rate, 440, 3, "browser received from linphone")
        x, rate = lp.received()
        assert_tone(x, rate, 1000, 3, "linphone received from the browser")
        await c.close()


async def test_browser_calls_linphone():
    with Kamailio(USERS) as kam, Gateway(gw_conf(kam, proxy=kam.uri)) as gw:
        c = await connect(gw)
        lp = await start_phone(kam, auto_answer=True)
        pc, rec = await offering_pc("PCMU", record=True)
        try:
            r = await c.call("call", {"to": "sip:carol@127.0.0.1", "account": "alice",
                                      "sdp": pc.localDescription.sdp})
            await pc.setRemoteDescription(RTCSessionDescription(r["sdp"], "answer"))
            st = await c.wait_state(r["call"], ("answered", "ended"), timeout=20)
            assert st["state"] == "answered", st
            await lp.wait_for("connected")
            await asyncio.sleep(4.5)
            await c.call("hangup", {"call": r["call"]})
            await c.wait_state(r["call"], "ended")
            await lp.wait_for(LP_ENDED, 10)   # our BYE, as alice's account
        finally:
            rec.stop()
            await pc.close()
            lp.stop()
        x, rate = rec.samples()
        assert_tone(x, rate, 440, 3, "browser received from linphone")
        x, rate = lp.received()
        assert_tone(x, rate, 1000, 3, "linphone received from the browser")
        await c.close()


if __name__ == "__main__":
    if not shutil.which("linphonec"):
        print("1..1\nnot ok 1 - linphonec is not installed (apt-get install linphone-cli)")
        sys.exit(1)
    tap_main([test_linphone_calls_browser, test_browser_calls_linphone])
