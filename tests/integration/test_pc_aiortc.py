"""webrtc/'s struct tnd_pc against a real WebRTC stack: aiortc 1.4.0 offers
(ICE, DTLS-SRTP, BUNDLE, rtcp-mux) and sends a 1 kHz tone; tests/integration/
pc-echo answers through the webrtc/ API and echoes every decrypted RTP packet
back with its own SSRC. We assert on what aiortc decoded from the echo: a
1000 +- 20 Hz tone with RMS > 0.01 over at least 2 s. Cases: the driver as
DTLS server (Opus), as DTLS client (PCMU), and a wrong fingerprint, which the
driver must report as FAILED and exit non-zero within a few seconds.
Everything on 127.0.0.1; every wait is bounded and the driver is killed on
failure. Run with /usr/bin/python3 (aiortc, PyAV and numpy are Debian's)."""

import asyncio
import fractions
import os
import re
import tempfile
import time

import aioice.ice
import numpy as np
from av import AudioFrame

# aioice leaves loopback out; harness.md section 5
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import (MediaStreamTrack, RTCConfiguration,  # noqa: E402
                    RTCPeerConnection, RTCRtpSender, RTCSessionDescription)

from tandem_harness import TOP_BUILDDIR, tap_main  # noqa: E402

PC_ECHO = os.path.join(TOP_BUILDDIR, "tests", "integration", "pc-echo")
RATE = 48000
FRAME = 960          # 20 ms at 48 kHz
RECORD_S = 3.0       # what we keep of the echo; the check drops the first 0.5 s


class Tone(MediaStreamTrack):
    """A 1 kHz sine at -6 dBFS, 20 ms frames paced in real time."""
    kind = "audio"

    def __init__(self, freq=1000.0):
        super().__init__()
        self.freq = freq
        self.n = 0
        self.t0 = None

    async def recv(self):
        if self.t0 is None:
            self.t0 = time.monotonic()
        wait = self.t0 + self.n / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(self.n, self.n + FRAME)) / RATE
        pcm = (0.5 * np.sin(2 * np.pi * self.freq * t) * 32767).astype(np.int16)
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = RATE
        frame.pts = self.n
        frame.time_base = fractions.Fraction(1, RATE)
        self.n += FRAME
        return frame


def tone_check(pcm, rate, expected=1000.0):
    """harness.md section 2: drop 0.5 s, window, FFT, peak above 50 Hz."""
    assert len(pcm) >= rate * 2.5, "only %.2f s of audio" % (len(pcm) / rate)
    x = pcm[rate // 2:] * np.hanning(len(pcm) - rate // 2)
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    p[f < 50] = 0
    peak = f[p.argmax()]
    rms = float(np.sqrt(np.mean(pcm[rate // 2:] ** 2)))
    assert abs(peak - expected) <= 20, "peak at %.1f Hz" % peak
    assert rms > 0.01, "RMS %.4f" % rms
    return peak, rms


async def record(track, out, seconds):
    """Samples (mono, scaled to +-1) of the first `seconds` of the track."""
    need = None
    while need is None or sum(len(c) for c in out["pcm"]) < need:
        frame = await track.recv()
        a = frame.to_ndarray().reshape(-1)
        ch = len(frame.layout.channels)
        out["rate"] = frame.sample_rate
        need = int(seconds * frame.sample_rate)
        out["pcm"].append(a[::ch].astype(np.float64) / 32768.0)


async def read_until(stream, done, timeout, what):
    """Lines from the driver until done(line) is true; all lines read."""
    lines = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("pc-echo: no %s within %d s; got %r" % (what, timeout, lines))
        raw = await asyncio.wait_for(stream.readline(), left)
        if not raw:
            raise AssertionError("pc-echo exited before %s; got %r" % (what, lines))
        line = raw.decode().rstrip("\r\n")
        lines.append(line)
        if done(line):
            return lines


class Echo:
    """pc-echo as a child process, killed if still running at exit."""

    def __init__(self, *args):
        self.args = args
        self.proc = None
        self.err = tempfile.TemporaryFile()

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(
            PC_ECHO, *self.args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=self.err)
        return self

    async def __aexit__(self, *exc):
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if exc[0] is not None:
            self.err.seek(0)
            for line in self.err.read().decode(errors="replace").splitlines()[-15:]:
                print("# pc-echo: " + line)
        self.err.close()

    async def answer(self, offer_sdp):
        self.proc.stdin.write(offer_sdp.replace("\r\n", "\n").encode() + b"END\n")
        await self.proc.stdin.drain()
        lines = await read_until(self.proc.stdout, lambda l: l == "END", 10, "answer")
        return "\r\n".join(lines[:-1]) + "\r\n"


async def offer_with(codec=None):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tr = pc.addTransceiver(Tone(), direction="sendrecv")
    if codec:
        caps = RTCRtpSender.getCapabilities("audio")
        tr.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == codec])
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def echo_case(setup, codec, want_codec):
    pc, offer = await offer_with(codec)
    got = {"pcm": [], "rate": None}
    rec = []

    @pc.on("track")
    def on_track(track):
        rec.append(asyncio.ensure_future(record(track, got, RECORD_S)))

    try:
        async with Echo("--setup", setup, "--timeout", "30") as echo:
            answer = await echo.answer(offer)
            assert "a=setup:%s" % setup in answer, answer
            assert re.search(r"a=rtpmap:\d+ %s/" % want_codec, answer, re.I), answer
            t0 = time.monotonic()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            lines = await read_until(echo.proc.stdout, lambda l: l.startswith(("CONNECTED", "FAILED")),
                                     10, "CONNECTED")
            assert lines[-1].startswith("CONNECTED"), lines
            print("# %s (%s), driver %s: %s; %.0f ms from the answer" % (
                want_codec, lines[-1].split()[2], "DTLS client" if setup == "active" else
                "DTLS server", lines[-1], (time.monotonic() - t0) * 1000))
            assert rec, "aiortc saw no track"
            await asyncio.wait_for(rec[0], RECORD_S + 8)
            # closing stdin ends the driver, which prints its counters
            echo.proc.stdin.close()
            lines = await read_until(echo.proc.stdout, lambda l: l.startswith("STATS"), 10, "STATS")
            rc = await asyncio.wait_for(echo.proc.wait(), 10)
            stats = dict(kv.split("=", 1) for kv in lines[-1].split()[1:])
            print("# " + lines[-1])
            assert rc == 0, "pc-echo exited %d" % rc
            assert int(stats["rtp_in"]) > 100 and int(stats["rtp_out"]) > 100, stats
            assert int(stats["srtp_err_in"]) == 0 and int(stats["echo_err"]) == 0, stats
    finally:
        for t in rec:
            t.cancel()
        await pc.close()
    pcm = np.concatenate(got["pcm"])
    peak, rms = tone_check(pcm, got["rate"])
    print("# echo: %.2f s at %d Hz, peak %.1f Hz, RMS %.3f" % (
        len(pcm) / got["rate"], got["rate"], peak, rms))


async def test_echo_opus_driver_dtls_server():
    # aiortc offers actpass; "passive" makes it the DTLS client
    await echo_case("passive", None, "opus")


async def test_echo_pcmu_driver_dtls_client():
    # "active": the driver starts the handshake, aiortc is the DTLS server
    await echo_case("active", "audio/pcmu", "PCMU")


async def test_wrong_fingerprint_fails():
    pc, offer = await offer_with("audio/pcmu")
    fp = re.search(r"a=fingerprint:(\S+) (\S+)", offer)
    digest = fp.group(2)
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    try:
        async with Echo("--setup", "passive", "--timeout", "30",
                        "--fingerprint", "%s %s" % (fp.group(1), wrong)) as echo:
            answer = await echo.answer(offer)
            t0 = time.monotonic()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            lines = await read_until(echo.proc.stdout,
                                     lambda l: l.startswith(("CONNECTED", "FAILED")), 8, "FAILED")
            assert lines[-1] == "FAILED 1", lines          # EPERM: fingerprint mismatch
            rc = await asyncio.wait_for(echo.proc.wait(), 5)
            took = time.monotonic() - t0
            print("# FAILED after %.0f ms, exit %d" % (took * 1000, rc))
            assert rc == 3, "pc-echo exited %d" % rc
            assert took < 5, "took %.1f s" % took
    finally:
        await pc.close()


if __name__ == "__main__":
    tap_main([test_echo_opus_driver_dtls_server, test_echo_pcmu_driver_dtls_client,
              test_wrong_fingerprint_fails])
