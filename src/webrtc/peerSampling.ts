// Stats sampling of one server peer: on the sampler's tick (statsSampler.ts)
// it reads the live peer (peerReading.ts), builds the sample with the pure
// builder (statsSample.ts) from the reading and the previous sample's memory,
// and records `connection.stats_sampled`. The viewer's RTCP about each of our
// senders is watched here too (rtcpObserver.ts), since samples carry it.
import type { Logger } from 'pino';
import type { RTCDataChannel, RTCPeerConnection } from 'werift';
import { readPeer } from './peerReading.ts';
import { RtcpObserver } from './rtcpObserver.ts';
import { buildStatsSample, type SampleMemory, type StatsSampleData } from './statsSample.ts';
import type { StatsTotals } from './statsSummary.ts';
import type { ConnectionRecorder } from './recorder.ts';

export type SamplingSources = {
  pc: RTCPeerConnection;
  /** Video frames and keyframes the media source sent on a track (null if not counted). */
  framesOf(track: unknown): { frames: number; keyframes: number } | null;
  /** The data channels the viewer opened. */
  channels: Iterable<RTCDataChannel>;
  /** True once the peer is closing: no sample is recorded after that. */
  closing(): boolean;
};

export class PeerSampling {
  private readonly rtcp = new RtcpObserver();
  private lastSample: SampleMemory | null = null;
  private sampling = false;

  constructor(
    private readonly sources: SamplingSources,
    private readonly recorder: ConnectionRecorder,
    private readonly logger: Logger,
  ) {}

  /** The senders and transports exist (after negotiation): watch the viewer's RTCP about them. */
  attach(): void {
    this.rtcp.attach(this.sources.pc);
  }

  detach(): void {
    this.rtcp.detach();
  }

  /** A sample built now (rates since the last recorded sample), with the live totals; nothing is recorded. */
  async live(): Promise<{ sample: StatsSampleData; totals: StatsTotals }> {
    const { reading, totals } = await this.read();
    return { sample: buildStatsSample(reading, this.lastSample).data, totals };
  }

  /** Appends one `connection.stats_sampled`; skipped while the previous sample is still being taken. */
  async sample(): Promise<boolean> {
    if (this.sampling || this.sources.closing()) return false;
    this.sampling = true;
    try {
      const { reading } = await this.read();
      if (this.sources.closing()) return false;
      const { data, memory } = buildStatsSample(reading, this.lastSample);
      this.lastSample = memory;
      await this.recorder.record([{ type: 'connection.stats_sampled', data }]);
      return true;
    } catch (err) {
      if (!this.sources.closing()) this.logger.debug({ err, connectionId: this.recorder.connectionId }, 'getStats failed');
      return false;
    } finally {
      this.sampling = false;
    }
  }

  private read() {
    return readPeer({
      pc: this.sources.pc,
      ledger: this.rtcp.ledger,
      framesOf: this.sources.framesOf,
      channels: this.sources.channels,
    });
  }
}
