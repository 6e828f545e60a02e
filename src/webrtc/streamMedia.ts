// A media stream's one source: one werift file player (getUserMedia({ path,
// loop })) per stream, whatever the number of viewers, its RTP packets fanned
// out to a relay per viewer and kind (mediaRelay.ts), which each viewer's
// RTP sender carries. A player per viewer cost about a quarter of the
// server's CPU with 100 viewers (bench figure 5); decoding the file once and
// encrypting and sending per viewer is the floor.
//
// Lifetime: the player is opened when the first viewer joins (answering its
// offer), starts playing when the first viewer is connected (an earlier
// keyframe is lost before DTLS is up: docs/werift.md), and is stopped when
// the last viewer leaves (a stream nobody watches plays nothing) or when the
// stream stops, once either way (werift's stop() is final: a viewer joining
// later opens a new player). A viewer leaving only takes its relays out.
// Memory is bounded by the viewers: nothing is buffered here, a packet is
// handed to every relay and dropped.
//
// Quality is per viewer: `low` (keyframes only) is a filter in the viewer's
// relay over the same packets, not another encoding, so one player serves
// every quality.
import { defaultPeerConfig, ntpTime, type MediaStreamTrack, type RTCPeerConnection, type RtpPacket } from 'werift';
import type { getUserMedia } from 'werift/nonstandard';
import { loadFilePlayer } from './filePlayer.ts';
import { MediaRelay, type PacketInfo } from './mediaRelay.ts';
import { KEYFRAMES_ONLY, type Quality } from './quality.ts';
import { vp8FrameStart } from './vp8.ts';

type Player = Awaited<ReturnType<typeof getUserMedia>>;
type Kind = 'audio' | 'video';

/** File players open in this process, across streams (GET stats/resources). */
export const mediaPlayers = { open: 0, opened: 0, stopped: 0 };

/** One kind of the player's output, handed to the relays of the viewers that are playing. */
class Dispatcher {
  readonly relays = new Set<MediaRelay>();
  private lastTs: number | null = null;
  private frameTicks = 0;
  private sourceChanged = false;
  private readonly info: PacketInfo = { newFrame: false, keyframe: false, frameTicks: 0, ntp: 0n };

  constructor(
    readonly kind: Kind,
    readonly source: MediaStreamTrack,
  ) {
    source.onReceiveRtp.subscribe((rtp) => this.dispatch(rtp));
    source.onSourceChanged.subscribe(() => {
      this.sourceChanged = true;
      for (const relay of this.relays) relay.markSourceChanged();
    });
  }

  private dispatch(rtp: RtpPacket) {
    const ts = rtp.header.timestamp;
    const info = this.info;
    info.newFrame = ts !== this.lastTs;
    info.keyframe = false;
    if (info.newFrame) {
      if (this.lastTs !== null && !this.sourceChanged) {
        const delta = (ts - this.lastTs) >>> 0;
        if (delta > 0 && delta < 0x7fffffff) this.frameTicks = delta;
      }
      this.sourceChanged = false;
      this.lastTs = ts;
      if (this.kind === 'video') info.keyframe = vp8FrameStart(rtp.payload)?.keyframe ?? false;
    }
    info.frameTicks = this.frameTicks;
    if (this.relays.size === 0) return;
    info.ntp = ntpTime();
    for (const relay of this.relays) relay.forward(rtp, info);
  }
}

/** A player and what it feeds; replaced by a new one after it stops. */
class Playback {
  readonly dispatchers = new Map<Kind, Dispatcher>();
  private starting: Promise<void> | null = null;
  private stopped = false;

  constructor(readonly player: Player) {
    if (player.video) this.dispatchers.set('video', new Dispatcher('video', player.video));
    if (player.audio) this.dispatchers.set('audio', new Dispatcher('audio', player.audio));
  }

  /** Starts playing once; later callers wait for the same start. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      // The player checks each of its tracks has a codec matching its source.
      // Relays set the payload type each viewer negotiated, so werift's
      // default codec for the source's format is all the player needs.
      for (const d of this.dispatchers.values()) d.source.codec = defaultCodecFor(this.player, d.kind, d.source);
      await this.player.start();
    })();
    return this.starting;
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.player.stop();
    mediaPlayers.open--;
    mediaPlayers.stopped++;
  }
}

export class StreamMedia {
  private playback: Playback | null = null;
  private opening: Promise<Playback> | null = null;
  /** Viewers joined or joining: the player runs while there is one. */
  private viewers = 0;
  private stopped = false;
  private readonly errorListeners = new Set<(err: Error) => void>();

  constructor(readonly path: string) {}

  /**
   * A viewer joins: relay tracks of the kinds it offered (and the file has)
   * are added to its peer, which has applied the offer (reusing its
   * transceivers; an answer cannot add a kind the offer lacks). Nothing is
   * sent until `start()` on the returned ViewerMedia.
   */
  async join(pc: RTCPeerConnection, offeredKinds: string[], quality: Quality, onError: (err: Error) => void): Promise<ViewerMedia> {
    if (this.stopped) throw new Error('the stream has stopped');
    this.viewers++;
    try {
      const playback = await this.open();
      if (this.stopped) throw new Error('the stream has stopped');
      const relays: { relay: MediaRelay; dispatcher: Dispatcher }[] = [];
      for (const [kind, dispatcher] of playback.dispatchers) {
        if (!offeredKinds.includes(kind)) continue;
        const relay = new MediaRelay(kind);
        relay.carriedBy(pc.addTrack(relay.track));
        relays.push({ relay, dispatcher });
      }
      this.errorListeners.add(onError);
      const viewer = new ViewerMedia(playback, relays, () => {
        this.errorListeners.delete(onError);
        this.leave();
      });
      viewer.setQuality(quality);
      return viewer;
    } catch (err) {
      this.leave();
      throw err;
    }
  }

  /** The stream ends: its player stops (once), and no viewer joins after. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.playback?.stop();
    this.playback = null;
    this.opening = null;
  }

  private open(): Promise<Playback> {
    this.opening ??= (async () => {
      const player = await (await loadFilePlayer())({ path: this.path, loop: true });
      mediaPlayers.open++;
      mediaPlayers.opened++;
      const playback = new Playback(player);
      player.onError.subscribe((err) => {
        for (const listener of this.errorListeners) listener(err);
      });
      if (playback.dispatchers.size === 0) {
        playback.stop();
        throw new Error('the file has no audio or video track');
      }
      // Stopped, or left by every viewer, while the file was being opened.
      if (this.stopped || this.viewers === 0) playback.stop();
      else this.playback = playback;
      return playback;
    })();
    const opening = this.opening;
    // A failed open is not kept: the next viewer tries again.
    opening.catch(() => {
      if (this.opening === opening) this.opening = null;
    });
    return opening;
  }

  private leave() {
    this.viewers--;
    if (this.viewers > 0 || !this.playback) return;
    // Nobody left to watch: the player stops; the next viewer opens a new one.
    this.playback.stop();
    this.playback = null;
    this.opening = null;
  }
}

/** One viewer's share of a stream's media: its relays, and its place among the player's listeners. */
export class ViewerMedia {
  private started = false;
  private left = false;

  constructor(
    private readonly playback: Playback,
    private readonly relays: { relay: MediaRelay; dispatcher: Dispatcher }[],
    private readonly onLeave: () => void,
  ) {}

  /** Starts receiving the stream's packets; call once the viewer is `connected`. */
  async start(): Promise<void> {
    if (this.started || this.left) return;
    this.started = true;
    for (const { relay } of this.relays) {
      const codec = relay.track.codec;
      if (!codec) throw new Error(`no ${relay.kind} codec was negotiated with the viewer`);
      const source = this.playback.dispatchers.get(relay.kind)!.source;
      const expected = defaultCodecFor(this.playback.player, relay.kind, source).mimeType.toLowerCase();
      if (codec.mimeType.toLowerCase() !== expected) {
        throw new Error(`the ${relay.kind} track is ${expected}, but the viewer negotiated ${codec.mimeType}`);
      }
    }
    await this.playback.start();
    if (this.left) return;
    for (const { relay, dispatcher } of this.relays) dispatcher.relays.add(relay);
  }

  setQuality(quality: Quality) {
    for (const { relay } of this.relays) if (relay.kind === 'video') relay.setKeyframesOnly(KEYFRAMES_ONLY[quality]);
  }

  get framesDropped(): number {
    return this.relays.reduce((n, { relay }) => n + relay.framesDropped, 0);
  }

  /**
   * Video frames and keyframes sent on the relay track `track` (the track a
   * sender carries); null for audio, whose packets are not frames in the
   * stats' sense, and for a track that is not ours.
   */
  framesOf(track: unknown): { frames: number; keyframes: number } | null {
    const relay = this.relays.find((r) => r.relay.track === track)?.relay;
    if (!relay || relay.kind !== 'video') return null;
    return { frames: relay.framesSent, keyframes: relay.keyframesSent };
  }

  /** The viewer leaves: its relays stop; the player and the other viewers carry on. */
  stop() {
    if (this.left) return;
    this.left = true;
    for (const { relay, dispatcher } of this.relays) {
      dispatcher.relays.delete(relay);
      relay.stop();
    }
    this.onLeave();
  }
}

/** werift's default codec for a player track's source format (player internals: werift 0.24.4 is pinned). */
function defaultCodecFor(player: Player, kind: Kind, track: MediaStreamTrack) {
  const session = (player as unknown as { session?: { playbackTracks?: { track: MediaStreamTrack; sourceCodec: string }[] } }).session;
  const sourceCodec = session?.playbackTracks?.find((t) => t.track === track)?.sourceCodec;
  const codec = (defaultPeerConfig.codecs[kind] ?? []).find((c) => c.mimeType.toLowerCase() === `${kind}/${sourceCodec}`.toLowerCase());
  if (!codec) throw new Error(`cannot play the ${kind} track (${sourceCodec ?? 'unknown codec'})`);
  return codec;
}
