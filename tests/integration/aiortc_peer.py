"""python3-aiortc as the browser side of a call through Tandem: it logs in
over the JSON-RPC WebSocket, places or answers calls, sends a tone and
records what arrives. aiortc 1.4.0 (Debian 12), pinned by harness.md."""

import asyncio
import fractions
import json
import time

import numpy as np

import aioice.ice
import av
from aiortc import (RTCConfiguration, RTCPeerConnection, RTCRtpSender,
                    RTCSessionDescription)
from aiortc.mediastreams import MediaStreamTrack

# aioice leaves loopback out unless told (harness.md section 5)
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class ToneTrack(MediaStreamTrack):
    """A sine at `hz`, 20 ms s16 mono frames at 48 kHz, paced in real time."""
    kind = "audio"

    def __init__(self, hz, rate=48000):
        super().__init__()
        self.hz, self.rate, self.pts = hz, rate, 0
        self.start = None

    async def recv(self):
        n = self.rate // 50
        if self.start is None:
            self.start = time.monotonic()
        wait = self.start + self.pts / self.rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(n) + self.pts) / self.rate
        pcm = (0.5 * 32767 * np.sin(2 * np.pi * self.hz * t)).astype("<i2")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self.pts += n
        return frame


class Recorder:
    """Pulls decoded frames off a remote track into one mono float array."""

    def __init__(self):
        self.chunks, self.rate, self.task = [], None, None

    def start(self, track):
        self.task = asyncio.ensure_future(self._run(track))

    async def _run(self, track):
        try:
            while True:
                f = await track.recv()
                a = f.to_ndarray()
                ch = len(f.layout.channels)
                x = a.reshape(-1)[::ch] if a.shape[0] == 1 else a[0]
                self.rate = f.sample_rate
                self.chunks.append(x.astype(np.float64) / 32768.0)
        except Exception:  # the track ends when the call does
            return

    def samples(self):
        if not self.chunks:
            return np.zeros(0), self.rate or 48000
        return np.concatenate(self.chunks), self.rate

    def stop(self):
        if self.task:
            self.task.cancel()


class Client:
    """One WebSocket session with Tandem, with a queue of notifications."""

    def __init__(self, ws):
        self.ws, self.next_id, self.pending, self.notes = ws, 1, {}, asyncio.Queue()
        self.backlog = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        async for text in self.ws:
            m = json.loads(text)
            if "id" in m and m["id"] in self.pending:
                self.pending.pop(m["id"]).set_result(m)
            elif "method" in m:
                await self.notes.put(m)

    async def request(self, method, params=None, timeout=15):
        i = self.next_id
        self.next_id += 1
        fut = asyncio.get_event_loop().create_future()
        self.pending[i] = fut
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        await self.ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, timeout)

    async def call(self, method, params=None, timeout=15):
        """Like request, but raises on an error answer."""
        m = await self.request(method, params, timeout)
        if "error" in m:
            raise AssertionError("%s failed: %s" % (method, m["error"]))
        return m["result"]

    async def wait_note(self, pred, timeout=15):
        """The first notification matching pred, in arrival order; the ones
        that do not match stay for later waits (nothing is lost to a race)."""
        for i, m in enumerate(self.backlog):
            if pred(m):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching notification")
            try:
                m = await asyncio.wait_for(self.notes.get(), left)
            except asyncio.TimeoutError:
                raise AssertionError("no matching notification")
            if pred(m):
                return m
            self.backlog.append(m)

    async def wait_state(self, call, states, timeout=15):
        if isinstance(states, str):
            states = (states,)
        seen = []

        def pred(m):
            if m["method"] == "call.state" and m["params"]["call"] == call:
                seen.append(m["params"]["state"])
                return m["params"]["state"] in states
            return False
        try:
            return (await self.wait_note(pred, timeout))["params"]
        except AssertionError:
            raise AssertionError("call %s: no state %s; saw %s" % (call, states, seen))

    async def close(self):
        self.reader.cancel()
        await self.ws.close()


def prefer(pc, codec):
    """Restricts the audio transceiver to one codec (plus telephone-event)."""
    caps = RTCRtpSender.getCapabilities("audio").codecs
    want = [c for c in caps if c.mimeType.lower() == "audio/" + codec.lower()]
    assert want, "aiortc has no %s" % codec
    for t in pc.getTransceivers():
        if t.kind == "audio":
            t.setCodecPreferences(want)


def new_pc():
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def offering_pc(codec="PCMU", record=False):
    """A pc sending a 1 kHz tone with only `codec` (and telephone-event)
    offered, its offer set as local description; with record, also a
    Recorder started on the remote track (else None)."""
    pc, rec = new_pc(), None
    if record:
        rec = Recorder()
        pc.on("track", lambda t: rec.start(t))
    pc.addTrack(ToneTrack(1000))
    prefer(pc, codec)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, rec
