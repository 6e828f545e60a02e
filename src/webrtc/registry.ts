// The live peers and streams of this process, and nothing else: a peer is
// dropped the moment its close is recorded (its history is in the log), a
// stream when it is stopped. Both maps are capped.
import { AppError } from '../log/errors.ts';
import type { ServerPeer, StreamSpec } from './serverPeer.ts';

export const MAX_STREAMS = 1000;
export const MAX_PEERS = 1000;

export type LiveStream = StreamSpec & { createdAt: number };

export class Registry {
  readonly peers = new Map<string, ServerPeer>();
  readonly streams = new Map<string, LiveStream>();

  addStream(stream: LiveStream) {
    if (this.streams.size >= MAX_STREAMS) {
      throw new AppError(503, 'UNAVAILABLE', `at most ${MAX_STREAMS} streams may be open; stop one first`);
    }
    this.streams.set(stream.serverId, stream);
  }

  reservePeer() {
    if (this.peers.size >= MAX_PEERS) {
      throw new AppError(503, 'UNAVAILABLE', `at most ${MAX_PEERS} connections may be open; close some first`);
    }
  }

  addPeer(peer: ServerPeer) {
    this.peers.set(peer.id, peer);
  }

  removePeer(peer: ServerPeer) {
    if (this.peers.get(peer.id) === peer) this.peers.delete(peer.id);
  }

  peersOf(serverId: string): ServerPeer[] {
    return [...this.peers.values()].filter((p) => p.serverId === serverId);
  }
}
