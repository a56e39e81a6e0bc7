"""Real third-party peers for the media tests, run headless on loopback:
baresip (driven over its ctrl_tcp netstring JSON interface), the test tones
from shared/media/make-tones.sh, and the tone check of shared/harness.md
section 2 (the dominant frequency of what arrived, and its level)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import wave

import numpy as np

from tandem_harness import TOP_SRCDIR, free_port

SHARED = os.environ.get("TANDEM_SHARED") or os.path.join(TOP_SRCDIR, "..", "shared")
_TONES = {}


def tones(seconds=30):
    """Directory with tone1k_8k.wav, tone1k_48k.wav, tone440_*.wav, dtmf_8k.wav,
    each `seconds` long (baresip hangs up when its aufile source ends)."""
    if seconds not in _TONES:
        d = tempfile.mkdtemp(prefix="tandem-tones-")
        subprocess.run(["sh", os.path.join(SHARED, "media", "make-tones.sh"), d,
                        str(seconds)], check=True, capture_output=True)
        # baresip's aufile source must match the codec's channel count, and
        # Opus is negotiated as opus/48000/2: stereo copies for it
        for name in ("tone1k_48k", "tone440_48k"):
            subprocess.run(["sox", os.path.join(d, name + ".wav"), "-c", "2",
                            os.path.join(d, name + "_stereo.wav")], check=True)
        _TONES[seconds] = d
    return _TONES[seconds]


def read_wav(path):
    """Samples scaled to +-1 (first channel) and the rate."""
    with wave.open(path, "rb") as w:
        rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    assert width == 2, "16-bit expected, got %d bytes" % width
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    if ch > 1:
        x = x[::ch]
    return x, rate


def dominant(pcm, rate, lead_s=0.5):
    """(peak frequency above 50 Hz, RMS, seconds analysed): harness.md s. 2."""
    pcm = np.asarray(pcm, dtype=np.float64)[int(rate * lead_s):]
    if len(pcm) < rate // 10:
        return 0.0, 0.0, len(pcm) / rate
    x = pcm * np.hanning(len(pcm))
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    p[f < 50] = 0
    return float(f[p.argmax()]), float(np.sqrt(np.mean(pcm ** 2))), len(pcm) / rate


def assert_tone(pcm, rate, hz, min_seconds=3.0, what="audio"):
    """The signal holds `hz` (+-20 Hz) at a real level for min_seconds, and the
    tone is there in each second, not only on average."""
    peak, rms, secs = dominant(pcm, rate)
    assert secs >= min_seconds, "%s: only %.1f s arrived" % (what, secs)
    assert abs(peak - hz) <= 20 and rms > 0.01, \
        "%s: dominant %.0f Hz at RMS %.4f, wanted %d Hz" % (what, peak, rms, hz)
    start = int(rate * 0.5)
    for i in range(int(min_seconds)):
        seg = pcm[start + i * rate: start + (i + 1) * rate]
        pk, r, _ = dominant(seg, rate, lead_s=0)
        assert abs(pk - hz) <= 20 and r > 0.01, \
            "%s: second %d has %.0f Hz at RMS %.4f" % (what, i, pk, r)


class _PortTaken(Exception):
    pass


def _port_free(port):
    """Whether port is free on 127.0.0.1 for TCP and UDP."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


class Baresip:
    """One baresip user agent with its own config dir, listening on
    127.0.0.1:sip_port, playing `source_wav` into calls and writing what it
    receives to dump-*-dec.wav, controlled through ctrl_tcp."""

    def __init__(self, user="b", source_wav=None, codecs="pcmu", extra_modules=(),
                 account_params="answermode=auto", register=None, tls=None, args=()):
        """`tls`: (certificate, cafile) PEM paths, the certificate file holding
        its key too: baresip then speaks SIP over TLS on sip_port + 1 with
        that identity, trusting the CAs in cafile (uri_tls). `args`: more
        command line flags."""
        self.dir = tempfile.mkdtemp(prefix="tandem-baresip-")
        self.tls = tls
        self.user = user
        # baresip's account filter wants a codec's rtpmap rate and channels
        # where they are not 8000/1; a name it cannot find filters nothing
        # (then it answered PCMU from the gateway's full offer)
        codecs = {"opus": "opus/48000/2", "g722": "g722/16000/1"}.get(codecs, codecs)
        self.source_wav, self.codecs_, self.extra_modules = source_wav, codecs, extra_modules
        self.account_params, self.register = account_params, register
        self.args = list(args)         # more command line flags, e.g. -s (SIP trace)
        self._configure()
        self.proc = None
        self.sock = None
        self.buf = b""
        self.events = []

    def _configure(self):
        """Picks ports and writes config and accounts. baresip listens for
        SIP on sip_port (UDP and TCP) and for SIP/TLS on sip_port + 1, so
        both must be free (a taken sip_port + 1 made it exit at start)."""
        source_wav, codecs, extra_modules = self.source_wav, self.codecs_, self.extra_modules
        account_params, register, user = self.account_params, self.register, self.user
        for _ in range(50):
            self.sip_port = free_port(also_udp=True)
            if _port_free(self.sip_port + 1):
                break
        self.ctrl_port = free_port()
        rtp = free_port(also_udp=True) & ~1
        source = source_wav or os.path.join(tones(), "tone440_48k.wav")
        mods = ["g711.so", "opus.so", "aufile.so", "aubridge.so", "sndfile.so"]
        mods += list(extra_modules)
        cfg = [
            "sip_listen 127.0.0.1:%d" % self.sip_port,
            "net_interface 127.0.0.1",
            "dns_server 127.0.0.1:53",
            "audio_source aufile,%s" % source,
            "audio_player aubridge,sink",
            "audio_alert aubridge,sink",
            "ausrc_srate 48000",
            "snd_path %s" % self.dir,
            "rtp_ports %d-%d" % (rtp, rtp + 40),
            "module_path /usr/lib/baresip/modules",
            "statmode_default off",
            "module_tmp uuid.so",
            "module_tmp account.so",
        ] + ["module %s" % m for m in mods] + [
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            "ctrl_tcp_listen 127.0.0.1:%d" % self.ctrl_port,
        ]
        if self.tls:
            cfg += ["sip_certificate %s" % self.tls[0], "sip_cafile %s" % self.tls[1]]
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join(cfg) + "\n")
        if register:
            acc = "<sip:%s@%s>;auth_pass=%s;regint=60;audio_codecs=%s;%s" % (
                user, register[0], register[1], codecs, account_params)
        else:
            acc = "<sip:%s@127.0.0.1:%d>;regint=0;audio_codecs=%s;%s" % (
                user, self.sip_port, codecs, account_params)
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(acc + "\n")

    @property
    def uri(self):
        return "sip:%s@127.0.0.1:%d" % (self.user, self.sip_port)

    @property
    def uri_tls(self):
        """Its SIP over TLS address (baresip listens on sip_port + 1)."""
        return "sip:%s@127.0.0.1:%d;transport=tls" % (self.user, self.sip_port + 1)

    def start(self, timeout=10):
        for attempt in range(3):
            try:
                return self._start(timeout)
            except _PortTaken:
                # another test took one of the ports between our check and
                # baresip's bind: new ports, new try
                self._configure()
        return self._start(timeout)

    def _start(self, timeout):
        self.log = open(os.path.join(self.dir, "stdout.log"), "wb")
        self.proc = subprocess.Popen(["baresip", "-f", self.dir, "-v"] + self.args, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.read_log()
                if "Address already in use" in log:
                    raise _PortTaken()
                raise RuntimeError("baresip exited: " + log[-1500:])
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), 1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("baresip ctrl_tcp did not open")
        # ready when it answers a command
        self.command("reginfo")
        return self

    def read_log(self):
        with open(os.path.join(self.dir, "stdout.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def _send(self, obj):
        data = json.dumps(obj).encode()
        self.sock.sendall(b"%d:%s," % (len(data), data))

    def _recv_one(self, timeout):
        self.sock.settimeout(timeout)
        while True:
            colon = self.buf.find(b":")
            if colon > 0:
                n = int(self.buf[:colon])
                if len(self.buf) >= colon + 1 + n + 1:
                    msg = self.buf[colon + 1: colon + 1 + n]
                    self.buf = self.buf[colon + 2 + n:]
                    return json.loads(msg)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("baresip closed ctrl_tcp")
            self.buf += chunk

    def command(self, cmd, params="", timeout=5):
        token = "t%d" % time.monotonic_ns()
        self._send({"command": cmd, "params": params, "token": token})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self._recv_one(deadline - time.monotonic())
            if m.get("event"):
                self.events.append(m)
            elif m.get("token") == token:
                return m
        raise RuntimeError("no response to %s" % cmd)

    def wait_event(self, types, timeout=10):
        """The first event whose type is in `types` (already seen ones count)."""
        if isinstance(types, str):
            types = (types,)
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("type") in types:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("baresip: no %s event; saw %s" % (
                    types, [e.get("type") for e in self.events]))
            try:
                m = self._recv_one(left)
            except socket.timeout:
                continue
            if m.get("event"):
                self.events.append(m)

    def dial(self, uri):
        return self.command("dial", uri)

    def hangup(self):
        return self.command("hangup")

    def received(self):
        """(samples, rate) of what the last call received (dump-*-dec.wav)."""
        files = sorted(f for f in os.listdir(self.dir) if f.endswith("-dec.wav"))
        assert files, "baresip wrote no -dec.wav"
        return read_wav(os.path.join(self.dir, files[-1]))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self._send({"command": "quit", "params": "", "token": "q"})
                self.proc.wait(3)
            except Exception:  # stop must not fail: fall back to signals
                self.proc.terminate()
                try:
                    self.proc.wait(2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if self.sock:
            self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
