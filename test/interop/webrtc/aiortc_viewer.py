"""A WHEP viewer built on aiortc, a WebRTC stack nobody on this project wrote.

Run with Debian's Python (python3-aiortc is only visible to it):

    /usr/bin/python3 test/interop/webrtc/aiortc_viewer.py WHEP_URL media|data [--token T] [--hold]

It offers recvonly video+audio (media) or a data channel (data), POSTs the
offer to the WHEP URL (aiortc does not trickle: setLocalDescription gathers,
so every candidate is already in the offer), then

  media: decodes video frames and audio frames until it has enough of each;
  data:  receives the server's file transfer (JSON "begin", binary chunks,
         JSON "end" with bytes and sha256), hashing as it goes, until one
         pass is verified against the SHA-256 the server sent at its end;

ends the session with a WHEP DELETE, closes, and prints one JSON line with
what it saw. Exit status 0 when the goal was met, 1 otherwise.

With --hold it keeps the session (and keeps receiving, and sending its RTCP
receiver reports) after the goal is met: it prints {"playing": CONNECTION_ID}
and hangs up only when a line (or end of file) arrives on stdin, so the test
decides when, from what the monitor shows.
"""

import argparse
import asyncio
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urljoin

import aiortc
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

VIDEO_FRAMES_WANTED = 30
AUDIO_FRAMES_WANTED = 50  # 20 ms Opus frames: one second of sound


def http(method, url, body=None, content_type=None, token=None):
    """A blocking HTTP request; returns (status, headers, body bytes)."""
    # Named so the monitor's user_agent says which peer this connection was.
    headers = {"User-Agent": "aiortc/%s (webrtc-monitor test viewer)" % aiortc.__version__}
    if content_type:
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def ice_credentials(sdp):
    """The (ufrag, pwd) of each m-section, in order."""
    sections, current = [], None
    for line in sdp.splitlines():
        if line.startswith("m="):
            current = {}
            sections.append(current)
        elif current is not None and line.startswith("a=ice-ufrag:"):
            current["ufrag"] = line.split(":", 1)[1]
        elif current is not None and line.startswith("a=ice-pwd:"):
            current["pwd"] = line.split(":", 1)[1]
    return [(s.get("ufrag"), s.get("pwd")) for s in sections]


class DataReceiver:
    """Hashes the transfer as it arrives: memory stays one chunk, whatever the file size."""

    def __init__(self):
        self.hash = None
        self.bytes = 0
        self.messages = 0
        self.first = None
        self.passes = []
        self.verified = asyncio.Event()

    def on_message(self, message):
        self.messages += 1
        if isinstance(message, str):
            msg = json.loads(message)
            if self.first is None:
                self.first = msg.get("type")
            if msg.get("type") == "begin":
                self.hash, self.bytes = hashlib.sha256(), 0
            elif msg.get("type") == "end" and self.hash is not None:
                digest = self.hash.hexdigest()
                ok = digest == msg.get("sha256") and self.bytes == msg.get("bytes")
                self.passes.append({"pass": msg.get("pass"), "bytes": self.bytes, "sha256": digest, "server_sha256": msg.get("sha256"), "verified": ok})
                self.hash = None
                if ok:
                    self.verified.set()
        else:
            if self.first is None:
                self.first = "binary"
            if self.hash is not None:
                self.hash.update(message)
                self.bytes += len(message)


async def count_frames(track, counts, kind, enough):
    try:
        while True:
            frame = await track.recv()
            counts[kind] += 1
            if kind == "video":
                counts["width"], counts["height"] = frame.width, frame.height
            if counts["video"] >= VIDEO_FRAMES_WANTED and counts["audio"] >= AUDIO_FRAMES_WANTED:
                enough.set()
    except MediaStreamError:
        pass  # the track ended: the connection closed


async def run(args):
    result = {"mode": args.mode, "ok": False, "aiortc": aiortc.__version__}
    started = time.monotonic()
    # No ICE servers: aiortc would otherwise ask Google's STUN server, which a
    # loopback test neither needs nor may reach.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    states = []
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_state():
        states.append(pc.connectionState)
        if pc.connectionState == "connected":
            result["connected_ms"] = round((time.monotonic() - started) * 1000)
            connected.set()

    counts = {"video": 0, "audio": 0, "width": None, "height": None}
    enough = asyncio.Event()
    readers = []
    data = DataReceiver()

    if args.mode == "media":
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track):
            readers.append(asyncio.ensure_future(count_frames(track, counts, track.kind, enough)))
    else:
        channel = pc.createDataChannel("data")
        channel_states = []
        channel.on("open", lambda: channel_states.append("open"))
        channel.on("close", lambda: channel_states.append("closed"))
        channel.on("message", data.on_message)
        result["channel_states"] = channel_states

    loop = asyncio.get_running_loop()
    session = None
    try:
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        creds = ice_credentials(offer)
        result["offer_sections"] = len(creds)
        # What the server's normalisation exists for: aiortc 1.4 gives each bundled section its own credentials.
        result["offer_distinct_ice_credentials"] = len(set(creds)) > 1
        result["offer_candidates"] = sum(1 for l in offer.splitlines() if l.startswith("a=candidate:"))
        result["offer"] = offer

        status, headers, body = await loop.run_in_executor(None, lambda: http("POST", args.whep_url, offer.encode(), "application/sdp", args.token))
        result["whep_status"] = status
        if status != 201:
            result["error"] = "WHEP answered %d: %s" % (status, body[:300].decode("utf-8", "replace"))
            return result
        session = urljoin(args.whep_url, headers["Location"])
        result["connection_id"] = session.rstrip("/").rsplit("/", 1)[-1]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body.decode(), type="answer"))

        await asyncio.wait_for(connected.wait(), args.timeout)
        if args.mode == "media":
            await asyncio.wait_for(enough.wait(), args.timeout)
            result["video_frames"], result["audio_frames"] = counts["video"], counts["audio"]
            result["width"], result["height"] = counts["width"], counts["height"]
        else:
            await asyncio.wait_for(data.verified.wait(), args.timeout)
            result["data"] = {"first_message": data.first, "messages": data.messages, "passes": data.passes}
        if args.hold:
            print(json.dumps({"playing": result["connection_id"]}), flush=True)
            await loop.run_in_executor(None, sys.stdin.readline)
        result["ok"] = True
    except asyncio.TimeoutError:
        result["error"] = "timed out after %s s (states %s, video %d, audio %d, data passes %d)" % (args.timeout, states, counts["video"], counts["audio"], len(data.passes))
    except Exception as err:  # reported in the JSON line, which the test prints
        result["error"] = "%s: %s" % (type(err).__name__, err)
    finally:
        if session:
            # The WHEP hang-up: the server records the close as initiated by us (remote, to it).
            status, _, _ = await loop.run_in_executor(None, lambda: http("DELETE", session, token=args.token))
            result["delete_status"] = status
        await pc.close()
        for reader in readers:
            reader.cancel()
        result["states"] = states
        result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("whep_url")
    parser.add_argument("mode", choices=["media", "data"])
    parser.add_argument("--token", default=None)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds for each step")
    parser.add_argument("--hold", action="store_true", help="after the goal, wait for a line on stdin before hanging up")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["ok"] and result.get("delete_status") == 204 else 1)


if __name__ == "__main__":
    main()
