// One viewer's connection on the server side: a werift RTCPeerConnection
// answering the viewer's offer, the source that feeds it, and the recorder
// that turns every werift event into an event on the connection's stream.
//
// Closing is recorded exactly once, with who started it:
//   local     a close route, close-all, stream stop, a failed negotiation
//   remote    the WHEP DELETE, or the DTLS transport / data channel closing
//             without a local close (a clean hang-up, seen within ~15 ms)
//   ice       connection `failed` (ICE failure, or consent expiry: nothing
//             received for --consent-timeout): werift never closes a failed
//             peer itself, so we do, or its sockets leak (docs/werift.md)
//   shutdown  the server is stopping
//
// Two watches run beside the peer, each in its own file and neither depending
// on the other: liveness and consent (peerLiveness.ts, on the watchdog's
// tick) and stats samples (peerSampling.ts, on the sampler's tick). Lost
// consent comes back here: the peer records the failure and closes.
import { randomUUID } from 'node:crypto';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import type { Logger } from 'pino';
import type { EventStore } from '../log/store.ts';
import type { TrustedEvent } from '../log/catalogue.ts';
import { AppError } from '../errors.ts';
import { ConnectionRecorder } from './recorder.ts';
import { serverPeerConfig } from './peerConfig.ts';
import type { StreamMedia, ViewerMedia } from './streamMedia.ts';
import { DataSource } from './dataSource.ts';
import { peerStats, type StatsTotals } from './statsSummary.ts';
import { candidateLines, mediaKinds, parseCandidate, transportKeys, unifyBundleCredentials } from './sdpFixes.ts';
import { iceCredentials } from './sdpFrag.ts';
import type { Quality } from './quality.ts';
import type { ContentItem } from './content.ts';
import type { LivenessSettings } from './liveness.ts';
import { PeerLiveness } from './peerLiveness.ts';
import { PeerSampling } from './peerSampling.ts';
import type { StatsSampleData } from './statsSample.ts';
import { eitherSignal, raceAbort } from './abort.ts';

export type CloseInitiator = 'local' | 'remote' | 'ice' | 'shutdown';
export type StreamMode = 'media' | 'data';

export type StreamSpec = {
  serverId: string;
  content: ContentItem;
  mode: StreamMode;
  quality: Quality;
  iceServers: readonly string[];
  /** SHA-256 (hex) of the stream's viewer token (src/http/auth.ts); null: no viewer token. */
  viewerTokenSha256?: string | null;
  /** The codec of each track of a media stream's file (vp8, opus, ...); null: not probed. */
  codecs?: StreamCodecs | null;
  /** A media stream's one source, shared by its viewers (null in data mode). */
  media: StreamMedia | null;
};

/** A media file's codec per kind, lower case, as werift names them (`vp8`, `h264`, `opus`). */
export type StreamCodecs = { video?: string; audio?: string };

export type PeerDeps = {
  log: EventStore;
  logger: Logger;
  iceAdditionalHostAddresses: readonly string[];
  liveness: LivenessSettings;
  /** Called once, after the close is recorded, so the registry can forget the peer. */
  onClosed(peer: ServerPeer): void;
  /**
   * Aborts (with a 503 AppError) when the process runs out of file
   * descriptors: werift's socket bind then fails with EMFILE and its
   * gathering never completes, so a negotiation in flight stops at once.
   */
  resourceSignal?(): AbortSignal;
};

/** Candidates recorded per side; the count in the SDP beyond this is not interesting. */
const MAX_RECORDED_CANDIDATES = 20;
const STATE_KINDS = ['connection', 'ice', 'gathering', 'signaling'] as const;

export class ServerPeer {
  readonly id: string;
  readonly createdAt = Date.now();
  readonly pc: RTCPeerConnection;
  quality: Quality;
  connectedAt: number | null = null;
  private readonly recorder: ConnectionRecorder;
  private media: ViewerMedia | null = null;
  private data: DataSource | null = null;
  private closing: Promise<void> | null = null;
  private readonly states: Record<(typeof STATE_KINDS)[number], string> = {
    connection: 'new',
    ice: 'new',
    gathering: 'new',
    signaling: 'stable',
  };
  private readonly unsubscribes: (() => void)[] = [];
  private localCandidates = 0;
  private readonly liveness: PeerLiveness;
  private readonly sampling: PeerSampling;
  /** Data channels the viewer opened, for their counters in the samples (a viewer opens one). */
  private readonly channels = new Set<RTCDataChannel>();
  /** The viewer's offer as applied (credentials updated by an ICE restart). */
  private remoteOffer: string | null = null;

  constructor(
    readonly spec: StreamSpec,
    private readonly deps: PeerDeps,
    private readonly origin: { id?: string; operationId?: string; remote?: string; userAgent?: string } = {},
  ) {
    this.id = origin.id ?? randomUUID();
    this.quality = spec.quality;
    this.recorder = new ConnectionRecorder(deps.log, this.id, deps.logger);
    this.pc = new RTCPeerConnection(
      serverPeerConfig({ iceServers: spec.iceServers, iceAdditionalHostAddresses: deps.iceAdditionalHostAddresses }),
    );
    this.liveness = new PeerLiveness(this.pc, deps.liveness, this.recorder, (silentMs) => this.consentExpired(silentMs));
    this.sampling = new PeerSampling(
      {
        pc: this.pc,
        framesOf: (track) => this.media?.framesOf(track) ?? null,
        channels: this.channels,
        closing: () => this.closing !== null,
      },
      this.recorder,
      deps.logger,
    );
  }

  get serverId() {
    return this.spec.serverId;
  }

  get isClosing() {
    return this.closing !== null;
  }

  get state() {
    return { ...this.states };
  }

  /** Nothing has arrived from the viewer for --stall-after (as of the watchdog's last tick). */
  get isStalled(): boolean {
    return this.liveness.isStalled;
  }

  /** Records a fatal error on the connection (before closing it for that reason). */
  recordFailure(code: string, message: string): Promise<void> {
    return this.recorder.record([{ type: 'connection.error', data: { code, message: message.slice(0, 1000), fatal: true } }]);
  }

  /** Records the connection's creation (committed before the answer is made). */
  async recordCreated(): Promise<void> {
    await this.recorder.record(
      [
        {
          type: 'connection.created',
          data: {
            connection_id: this.id,
            server_id: this.spec.serverId,
            role: 'server',
            mode: this.spec.mode,
            content: this.spec.content.name,
            quality: this.quality,
            ...(this.origin.remote ? { remote: this.origin.remote.slice(0, 200) } : {}),
            ...(this.origin.userAgent ? { user_agent: this.origin.userAgent.slice(0, 300) } : {}),
          },
        },
      ],
      this.meta(),
    );
  }

  /**
   * Applies the viewer's offer and returns the answer with every candidate
   * in it (non-trickle). Throws an AppError 400/422 for an offer that cannot
   * be answered; the caller then closes the peer.
   */
  async answer(offerSdp: string, signal: AbortSignal): Promise<string> {
    this.subscribe();
    const kinds = mediaKinds(offerSdp);
    if (kinds.length === 0) throw new AppError('BAD_REQUEST', 'the body is not an SDP offer (no m= line)');
    if (this.spec.mode === 'media' && !kinds.some((k) => k === 'video' || k === 'audio')) {
      throw new AppError('VALIDATION_FAILED', 'a media stream needs an offer with an audio or video m-section');
    }
    if (this.spec.mode === 'data' && !kinds.includes('application')) {
      throw new AppError('VALIDATION_FAILED', 'a data stream needs an offer with a data channel (m=application)');
    }
    const sdp = unifyBundleCredentials(offerSdp);
    const combined = eitherSignal(signal, this.deps.resourceSignal?.());
    try {
      return await this.negotiate(sdp, kinds, combined.signal);
    } finally {
      combined.dispose();
    }
  }

  private async negotiate(sdp: string, kinds: string[], abort: AbortSignal): Promise<string> {
    this.remoteOffer = sdp;
    try {
      await raceAbort(this.pc.setRemoteDescription({ type: 'offer', sdp }), abort);
    } catch (err) {
      if (abort.aborted) throw abort.reason;
      throw new AppError('BAD_REQUEST', `the SDP offer was refused: ${(err as Error).message}`);
    }
    this.recordRemoteCandidates(sdp);
    abort.throwIfAborted();
    if (this.spec.mode === 'media') {
      if (!this.spec.media) throw new AppError('WEBRTC_ERROR', 'the media stream has no source');
      // Not raced against the abort: the peer's close (which follows any
      // failure here) takes the viewer out again, so none is left counted.
      this.media = await this.spec.media.join(this.pc, kinds, this.quality, (err) => this.recordError('MEDIA_ERROR', err.message, false));
    } else {
      this.data = new DataSource(this.spec.content.path, this.spec.content.name, this.quality);
    }
    abort.throwIfAborted();
    await raceAbort(this.pc.createAnswer().then((answer) => this.pc.setLocalDescription(answer)), abort);
    await this.gatheringComplete(abort);
    this.recordTracks();
    const local = this.pc.localDescription?.sdp;
    if (!local) throw new AppError('WEBRTC_ERROR', 'werift produced no local description');
    this.recordNegotiated(local, sdp);
    return local;
  }

  // ---- trickle ICE and ICE restart (WHEP PATCH) -------------------------

  /** The ICE credentials of the session now: the entity-tag of the WHEP session follows them. */
  get localIce(): { ufrag: string; pwd: string } | null {
    return iceCredentials(this.pc.localDescription?.sdp ?? '');
  }

  /** The viewer's ICE credentials now. */
  get remoteIce(): { ufrag: string; pwd: string } | null {
    return iceCredentials(this.remoteOffer ?? '');
  }

  /**
   * Candidates the viewer trickled. The server peer is ICE-lite: it answers
   * the viewer's checks from wherever they come (peer-reflexive), so these
   * complete the record and werift's view of the remote side rather than
   * open a path; they are recorded like the offer's.
   */
  async addRemoteCandidates(candidates: { mid: string | null; candidate: string }[], endOfCandidates: boolean): Promise<void> {
    if (this.closing) throw new AppError('CONFLICT', 'the session is closing');
    const firstMid = /^a=mid:(\S+)/m.exec(this.remoteOffer ?? '')?.[1];
    for (const { mid, candidate } of candidates) {
      try {
        await this.pc.addIceCandidate({ candidate, sdpMid: mid ?? firstMid });
      } catch (err) {
        throw new AppError('VALIDATION_FAILED', `a candidate was refused: ${(err as Error).message}`);
      }
    }
    if (endOfCandidates) await this.pc.addIceCandidate({ candidate: '', sdpMid: firstMid }).catch(() => {});
    this.recordRemoteCandidates(candidates.map((c) => `a=${c.candidate}`).join('\n'));
  }

  /**
   * An ICE restart asked by the viewer (RFC 9725 section 4.3.2): its new
   * credentials (and candidates) replace the old in its offer, which is
   * applied again; werift restarts the ICE agent with new local credentials.
   * Returns the new local description, whose credentials and candidates the
   * viewer needs.
   */
  async restartIce(ice: { ufrag: string; pwd: string }, candidates: string[], signal: AbortSignal): Promise<string> {
    if (this.closing) throw new AppError('CONFLICT', 'the session is closing');
    if (!this.remoteOffer) throw new AppError('CONFLICT', 'the session has not been negotiated');
    const eol = this.remoteOffer.includes('\r\n') ? '\r\n' : '\n';
    const lines = this.remoteOffer
      .split(/\r?\n/)
      .filter((l) => !l.startsWith('a=candidate:') && !l.startsWith('a=end-of-candidates'))
      .map((l) => (l.startsWith('a=ice-ufrag:') ? `a=ice-ufrag:${ice.ufrag}` : l.startsWith('a=ice-pwd:') ? `a=ice-pwd:${ice.pwd}` : l));
    // The candidates go in the first media section (the bundle's transport).
    const firstMedia = lines.findIndex((l) => l.startsWith('m='));
    const at = firstMedia < 0 ? lines.length : lines.findIndex((l, i) => i > firstMedia && (l.startsWith('m=') || l === ''));
    lines.splice(at < 0 ? lines.length : at, 0, ...candidates.map((c) => `a=${c}`));
    const offer = lines.join(eol);
    this.remoteOffer = offer;
    try {
      await raceAbort(this.pc.setRemoteDescription({ type: 'offer', sdp: offer }), signal);
      await raceAbort(this.pc.createAnswer().then((answer) => this.pc.setLocalDescription(answer)), signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw new AppError('VALIDATION_FAILED', `the ICE restart was refused: ${(err as Error).message}`);
    }
    await this.gatheringComplete(signal);
    // werift 0.24.4's connect() returns early while DTLS is connected, so
    // after an ICE restart on a live connection nothing starts the ICE agent
    // again and the viewer's checks (with the new credentials) wait unanswered
    // as "early checks" forever. Start it ourselves; DTLS and SCTP carry on
    // over the pair the new checks nominate (docs/werift.md, "ICE restart").
    for (const dtls of this.pc.dtlsTransports) {
      void dtls.iceTransport.start().catch((err: Error) => this.recordError('ICE_RESTART_FAILED', err.message, false));
    }
    this.recordRemoteCandidates(offer);
    const local = this.pc.localDescription?.sdp;
    if (!local) throw new AppError('WEBRTC_ERROR', 'werift produced no local description');
    return local;
  }

  /** Closes the peer and records it; a second call waits for the first and changes nothing. */
  close(initiator: CloseInitiator, reason: string, meta?: Record<string, unknown>): Promise<{ closedNow: boolean }> {
    if (this.closing) return this.closing.then(() => ({ closedNow: false }));
    // Assigned before anything runs: pc.close() fires werift's state events
    // synchronously, and they must already see a close in progress.
    let begin!: () => void;
    const gate = new Promise<void>((resolve) => (begin = resolve));
    this.closing = gate.then(async () => {
      this.media?.stop();
      this.data?.stop();
      try {
        await this.pc.close();
      } catch (err) {
        this.recordError('CLOSE_FAILED', (err as Error).message, false);
      }
      for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
      this.sampling.detach();
      this.liveness.stop();
      await this.recorder.recordClose(reason, initiator, { ...this.meta(), ...meta });
      this.deps.onClosed(this);
    });
    begin();
    return this.closing.then(() => ({ closedNow: true }));
  }

  setQuality(quality: Quality, meta?: Record<string, unknown>): Promise<void> {
    const from = this.quality;
    this.quality = quality;
    this.media?.setQuality(quality);
    this.data?.setQuality(quality);
    return this.recorder.record([{ type: 'connection.quality_changed', data: { from, to: quality } }], meta);
  }

  /** A sample built now (rates since the last recorded sample), plus what only a live peer knows. */
  async liveStats(): Promise<StatsSampleData & Pick<StatsTotals, 'dtls_state' | 'ice_state' | 'selected_pair'> & { frames_dropped: number | null; stalled: boolean; data: unknown; quality: Quality }> {
    const { sample, totals } = await this.sampling.live();
    return {
      ...sample,
      dtls_state: totals.dtls_state,
      ice_state: totals.ice_state,
      selected_pair: totals.selected_pair,
      frames_dropped: this.media ? this.media.framesDropped : null,
      stalled: this.liveness.isStalled,
      data: this.data ? { ...this.data.report(), rate_limit_bps: this.data.rate * 8 } : null,
      quality: this.quality,
    };
  }

  /** The sampler's tick: appends one `connection.stats_sampled` (peerSampling.ts). */
  sample(): Promise<boolean> {
    return this.sampling.sample();
  }

  /** The watchdog's tick: liveness and consent (peerLiveness.ts). */
  checkLiveness(now: number): void {
    if (this.closing) return;
    this.liveness.check(now);
  }

  /**
   * RFC 7675: lost consent fails the connection. werift's lite agent will
   * never say so, so record the failure a full agent would report, then close.
   */
  private consentExpired(silentMs: number) {
    this.recordError('CONSENT_EXPIRED', `nothing received from the viewer for ${Math.round(silentMs)} ms`, true);
    this.recordState('ice', 'failed');
    this.recordState('connection', 'failed');
    void this.close('ice', 'consent_expired');
  }

  /** Resolves when every event recorded so far is committed. */
  settled(): Promise<void> {
    return this.recorder.settled();
  }

  private meta() {
    return this.origin.operationId ? { operation_id: this.origin.operationId } : undefined;
  }

  private on<T extends unknown[]>(event: { subscribe(fn: (...args: T) => void): { unSubscribe(): void } }, fn: (...args: T) => void) {
    const { unSubscribe } = event.subscribe(fn);
    this.unsubscribes.push(unSubscribe);
  }

  private recordState(kind: (typeof STATE_KINDS)[number], to: string) {
    const from = this.states[kind];
    if (from === to) return;
    this.states[kind] = to;
    void this.recorder.record([{ type: 'connection.state_changed', data: { kind, from, to } }]);
  }

  private recordError(code: string, message: string, fatal: boolean) {
    void this.recorder.record([{ type: 'connection.error', data: { code, message: message.slice(0, 1000), fatal } }]);
  }

  private subscribe() {
    const pc = this.pc;
    this.on(pc.iceGatheringStateChange, (s) => this.recordState('gathering', s));
    this.on(pc.signalingStateChange, (s) => this.recordState('signaling', s));
    this.on(pc.iceConnectionStateChange, (s) => this.recordState('ice', s));
    this.on(pc.connectionStateChange, (s) => {
      this.recordState('connection', s);
      if (s === 'connected') void this.onConnected();
      if (s === 'failed' && !this.closing) {
        // werift leaves a failed peer open; close it ourselves (docs/werift.md, "Closing").
        void this.close('ice', this.connectedAt ? 'consent_expired' : 'ice_failed');
      }
    });
    this.on(pc.onIceCandidate, (candidate) => {
      if (!candidate?.candidate || this.localCandidates >= MAX_RECORDED_CANDIDATES) return;
      this.localCandidates++;
      void this.recorder.record([{ type: 'connection.candidate', data: { origin: 'local', candidate: candidate.candidate, ...parseCandidate(candidate.candidate) } }]);
    });
    this.on(pc.onTrack, (track) => {
      void this.recorder.record([{ type: 'connection.track_added', data: { track_id: track.id ?? track.uuid, kind: track.kind, direction: 'inbound' } }]);
    });
    this.on(pc.onDataChannel, (channel) => this.watchChannel(channel));
  }

  private recordRemoteCandidates(sdp: string) {
    // Bundled sections repeat the same candidates; record each once.
    const events: TrustedEvent[] = [...new Set(candidateLines(sdp))]
      .slice(0, MAX_RECORDED_CANDIDATES)
      .map((candidate) => ({ type: 'connection.candidate', data: { origin: 'remote', candidate, ...parseCandidate(candidate) } }));
    if (events.length) void this.recorder.record(events);
  }

  /** The keys a viewer-side trace of this connection is joined by (src/telemetry/correlate.ts). */
  private recordNegotiated(localSdp: string, remoteSdp: string) {
    const local = transportKeys(localSdp);
    const remote = transportKeys(remoteSdp);
    void this.recorder.record([
      {
        type: 'connection.negotiated',
        data: {
          local_ice_ufrag: local.ufrag,
          remote_ice_ufrag: remote.ufrag,
          local_fingerprint: local.fingerprint,
          remote_fingerprint: remote.fingerprint,
        },
      },
    ]);
  }

  private recordTracks() {
    const events: TrustedEvent[] = [];
    for (const t of this.pc.getTransceivers()) {
      const track = t.sender.track;
      if (!track) continue;
      events.push({
        type: 'connection.track_added',
        data: { track_id: track.id ?? track.uuid, kind: track.kind, codec: t.sender.codec?.mimeType, direction: t.direction },
      });
    }
    if (events.length) void this.recorder.record(events);
    // The senders and transports exist now: watch the viewer's RTCP about them.
    this.sampling.attach();
    // Watch the DTLS transport: a clean hang-up closes it within ~15 ms.
    for (const dtls of this.pc.dtlsTransports) {
      this.on(dtls.onStateChange, (state) => {
        if (state === 'closed' && !this.closing) void this.close('remote', 'dtls_closed');
      });
    }
  }

  private async onConnected() {
    if (this.connectedAt) return;
    this.connectedAt = Date.now();
    // Liveness is judged from here on; the first observation is the baseline.
    this.liveness.start(performance.now());
    try {
      const totals = await peerStats(this.pc);
      if (totals.selected_pair && !this.closing) {
        void this.recorder.record([{ type: 'connection.candidate_pair_selected', data: totals.selected_pair }]);
      }
    } catch (err) {
      this.deps.logger.debug({ err }, 'no stats for the selected pair');
    }
    if (this.media && !this.closing) {
      try {
        await this.media.start();
      } catch (err) {
        this.recordError('MEDIA_START_FAILED', (err as Error).message, true);
        void this.close('local', 'media_start_failed');
      }
    }
  }

  private watchChannel(channel: RTCDataChannel) {
    if (this.channels.size < 50) this.channels.add(channel);
    const info = () => ({ label: channel.label, channel_id: channel.id ?? null });
    let opened = false;
    const onOpen = () => {
      if (opened) return;
      opened = true;
      void this.recorder.record([{ type: 'connection.datachannel_opened', data: { ...info(), protocol: channel.protocol } }]);
      void this.data?.start(channel, (err) => this.recordError('DATA_SEND_FAILED', err.message, false));
    };
    this.on(channel.stateChanged, (state) => {
      if (state === 'open') onOpen();
      if (state === 'closed') {
        const report = this.data?.report();
        void this.recorder.record([
          {
            type: 'connection.datachannel_closed',
            data: { ...info(), bytes_sent: report?.bytesSent, ...(report?.lastSha256 ? { sha256: report.lastSha256 } : {}) },
          },
        ]);
        if (!this.closing) void this.close('remote', 'datachannel_closed');
      }
    });
    if (channel.readyState === 'open') onOpen();
  }

  private gatheringComplete(signal: AbortSignal): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const { unSubscribe } = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') done();
      });
      const onAbort = () => {
        unSubscribe();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        unSubscribe();
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      if (this.pc.iceGatheringState === 'complete') done();
    });
  }
}
