// A media file played into a viewer's tracks. werift's file player
// (getUserMedia({ path, loop })) writes RTP into its own tracks; a relay track
// per kind sits between the player and the RTP sender so that we control
// what is sent:
//  - sequence numbers stay continuous however many packets are dropped (a gap
//    starts werift's 5 ms NACK timer per stream, see docs/werift.md and
//    werift-webrtc#655);
//  - at each loop restart the timestamps carry on one frame after the last,
//    instead of werift's mapping onto the previous packet (the "looping
//    glitch" in docs/werift.md, which froze browsers for a GOP every loop);
//  - quality `low` sends only video keyframes (see quality.ts);
//  - frames and keyframes sent are counted for the stats.
import { defaultPeerConfig, MediaStreamTrack, type RTCPeerConnection, type RtpPacket } from 'werift';
import type { getUserMedia } from 'werift/nonstandard';
import { loadFilePlayer } from './filePlayer.ts';
import { KEYFRAMES_ONLY, type Quality } from './quality.ts';
import { vp8FrameStart } from './vp8.ts';

type Player = Awaited<ReturnType<typeof getUserMedia>>;

class Relay {
  readonly track: MediaStreamTrack;
  framesSent = 0;
  keyframesSent = 0;
  framesDropped = 0;
  private outSeq = Math.floor(Math.random() * 0xffff);
  private tsOffset = 0;
  private lastInTs: number | null = null;
  private lastOutTs: number | null = null;
  private lastDelta = 0;
  private sourceChanged = false;
  private keepFrame = true;
  /** After leaving keyframes-only mode, deltas are useless until the next keyframe. */
  private needKeyframe = false;
  keyframesOnly = false;
  attached = false;

  constructor(
    readonly source: MediaStreamTrack,
    readonly kind: 'audio' | 'video',
  ) {
    this.track = new MediaStreamTrack({ kind });
    source.onReceiveRtp.subscribe((rtp) => this.forward(rtp));
    source.onSourceChanged.subscribe(() => {
      this.sourceChanged = true;
    });
  }

  setKeyframesOnly(on: boolean) {
    if (this.keyframesOnly && !on) this.needKeyframe = true;
    this.keyframesOnly = on;
  }

  private forward(rtp: RtpPacket) {
    const h = rtp.header;
    const newFrame = h.timestamp !== this.lastInTs;
    if (newFrame) {
      if (this.lastInTs !== null && !this.sourceChanged) {
        const delta = (h.timestamp - this.lastInTs) >>> 0;
        if (delta > 0 && delta < 0x7fffffff) this.lastDelta = delta;
      }
      this.lastInTs = h.timestamp;
      if (this.kind === 'video') {
        const start = vp8FrameStart(rtp.payload);
        const keyframe = start?.keyframe ?? false;
        if (keyframe) this.needKeyframe = false;
        this.keepFrame = this.keyframesOnly || this.needKeyframe ? keyframe : true;
        if (this.keepFrame) {
          this.framesSent++;
          if (keyframe) this.keyframesSent++;
        } else this.framesDropped++;
      }
    }
    if (this.kind === 'video' && !this.keepFrame) return;
    if (this.sourceChanged && this.lastOutTs !== null) {
      // Carry on one frame after the last packet sent.
      this.tsOffset = (this.lastOutTs + (this.lastDelta || 1) - h.timestamp) >>> 0;
    }
    this.sourceChanged = false;
    this.outSeq = (this.outSeq + 1) & 0xffff;
    h.sequenceNumber = this.outSeq;
    h.timestamp = (h.timestamp + this.tsOffset) >>> 0;
    this.lastOutTs = h.timestamp;
    this.track.writeRtp(rtp);
  }
}

export class MediaSource {
  private started = false;
  private stopped = false;

  private constructor(
    private readonly player: Player,
    private readonly relays: Relay[],
  ) {}

  static async open(path: string): Promise<MediaSource> {
    const player = await (await loadFilePlayer())({ path, loop: true });
    const relays: Relay[] = [];
    if (player.video) relays.push(new Relay(player.video, 'video'));
    if (player.audio) relays.push(new Relay(player.audio, 'audio'));
    if (relays.length === 0) {
      player.stop();
      throw new Error('the file has no audio or video track');
    }
    return new MediaSource(player, relays);
  }

  get tracks(): MediaStreamTrack[] {
    return this.relays.map((r) => r.track);
  }

  /**
   * Adds the relay tracks of the kinds the viewer offered to a peer that has
   * applied the offer (reusing its transceivers); an answer cannot add a kind
   * the offer lacks.
   */
  attach(pc: RTCPeerConnection, offeredKinds: string[]) {
    for (const relay of this.relays) {
      if (!offeredKinds.includes(relay.kind)) continue;
      pc.addTrack(relay.track);
      relay.attached = true;
    }
  }

  /** Starts playback; call once the connection is `connected` (docs/werift.md: an earlier keyframe is lost). */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    // The player checks its own tracks' negotiated codec; the sender set it on the relay.
    for (const relay of this.relays) {
      if (relay.attached) {
        if (!relay.track.codec) throw new Error(`no ${relay.kind} codec was negotiated with the viewer`);
        relay.source.codec = relay.track.codec;
      } else {
        // The player plays every track of the file and insists each has a
        // codec matching its source; a kind the viewer did not ask for gets
        // werift's default codec for that source and goes nowhere.
        relay.source.codec = this.defaultCodecFor(relay);
      }
    }
    await this.player.start();
  }

  /** werift's default codec for a track's source codec (player internals: werift 0.24.4 is pinned). */
  private defaultCodecFor(relay: Relay) {
    const session = (this.player as unknown as { session?: { playbackTracks?: { track: MediaStreamTrack; sourceCodec: string }[] } }).session;
    const sourceCodec = session?.playbackTracks?.find((t) => t.track === relay.source)?.sourceCodec;
    const codec = (defaultPeerConfig.codecs[relay.kind] ?? []).find((c) => c.mimeType.toLowerCase() === `${relay.kind}/${sourceCodec}`.toLowerCase());
    if (!codec) throw new Error(`cannot play the ${relay.kind} track (${sourceCodec ?? 'unknown codec'}) without a viewer for it`);
    return codec;
  }

  setQuality(quality: Quality) {
    for (const relay of this.relays) if (relay.kind === 'video') relay.setKeyframesOnly(KEYFRAMES_ONLY[quality]);
  }

  get framesSent(): number {
    return this.relays.reduce((n, r) => n + r.framesSent, 0);
  }

  get framesDropped(): number {
    return this.relays.reduce((n, r) => n + r.framesDropped, 0);
  }

  /**
   * Video frames and keyframes sent on the relay track `track` (the track
   * a sender carries); null for audio, whose packets are not frames in the
   * stats' sense, and for a track that is not ours.
   */
  framesOf(track: unknown): { frames: number; keyframes: number } | null {
    const relay = this.relays.find((r) => r.track === track);
    if (!relay || relay.kind !== 'video') return null;
    return { frames: relay.framesSent, keyframes: relay.keyframesSent };
  }

  onError(listener: (err: Error) => void) {
    this.player.onError.subscribe(listener);
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.player.stop();
    for (const relay of this.relays) relay.track.stop();
  }
}
