// The live peers and streams of this process, and nothing else: a peer is
// dropped the moment its close is recorded (its history is in the log), a
// stream when it is stopped. Both maps are capped.
//
// Peer admission is a reservation taken synchronously before anything is
// awaited: a connect that is still being recorded holds its slot, so N + k
// concurrent offers against a cap of N admit exactly N (the slot turns into
// the peer, or is released when the connect fails).
import { timingSafeEqual } from 'node:crypto';
import { AppError, notFound, unavailable } from '../errors.ts';
import type { ServerPeer, StreamSpec } from './serverPeer.ts';
import { MAX_PEERS } from './admission.ts';

export const MAX_STREAMS = 1000;
export { MAX_PEERS };
/** Retry-After for a connect refused at the cap: peers come and go within seconds. */
export const PEER_RETRY_AFTER_S = 5;

export type LiveStream = StreamSpec & { createdAt: number };

/** A reserved peer slot: given to addPeer, or released. Releasing twice is harmless. */
export type PeerSlot = { release(): void };

export class Registry {
  readonly peers = new Map<string, ServerPeer>();
  readonly streams = new Map<string, LiveStream>();
  private reserved = 0;

  constructor(readonly maxPeers: number = MAX_PEERS) {}

  /** Peers open plus connects admitted and not yet open. */
  get admittedPeers(): number {
    return this.peers.size + this.reserved;
  }

  /** Slots left under the cap. */
  get availablePeers(): number {
    return Math.max(0, this.maxPeers - this.admittedPeers);
  }

  /** The live stream, or 404. */
  requireStream(serverId: string): LiveStream {
    const stream = this.streams.get(serverId);
    if (!stream) throw notFound('stream', serverId);
    return stream;
  }

  /** The live peer, or 404. */
  requirePeer(connectionId: string): ServerPeer {
    const peer = this.peers.get(connectionId);
    if (!peer) throw notFound('live connection', connectionId);
    return peer;
  }

  addStream(stream: LiveStream) {
    if (this.streams.size >= MAX_STREAMS) {
      throw new AppError('UNAVAILABLE', `at most ${MAX_STREAMS} streams may be open; stop one first`);
    }
    this.streams.set(stream.serverId, stream);
  }

  /**
   * The stream whose viewer token has this SHA-256 (hex), or null. At most
   * MAX_STREAMS comparisons, each constant-time.
   */
  streamWithViewerToken(sha256: Buffer): string | null {
    for (const stream of this.streams.values()) {
      if (!stream.viewerTokenSha256) continue;
      const known = Buffer.from(stream.viewerTokenSha256, 'hex');
      if (known.length === sha256.length && timingSafeEqual(known, sha256)) return stream.serverId;
    }
    return null;
  }

  /** Takes a slot for a peer about to be created; 503 with Retry-After at the cap. */
  reservePeer(): PeerSlot {
    if (this.admittedPeers >= this.maxPeers) {
      throw unavailable('UNAVAILABLE', `at most ${this.maxPeers} connections may be open at once; retry later`, PEER_RETRY_AFTER_S);
    }
    this.reserved++;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.reserved--;
      },
    };
  }

  /** Adds a peer in the slot reserved for it. */
  addPeer(peer: ServerPeer, slot: PeerSlot) {
    slot.release();
    this.peers.set(peer.id, peer);
  }

  removePeer(peer: ServerPeer) {
    if (this.peers.get(peer.id) === peer) this.peers.delete(peer.id);
  }

  peersOf(serverId: string): ServerPeer[] {
    return [...this.peers.values()].filter((p) => p.serverId === serverId);
  }
}
