// One reporting client (an rtcstats session): the messages of the rtcstats
// protocol in, events out. Every message becomes at most one append (all its
// events, one stream, validated before anything is written), queued in the
// order the messages arrived: the log's order is the server's, never the
// client's clock (which each event keeps as `client_ts`).
//
// Protocol (@jitsi/rtcstats 9.7, trace-ws.js): JSON text messages
//   {statsSessionId, type: 'identity', data: [..., clientTs, seq]}
//   {statsSessionId, type: 'stats-entry', data: '<JSON of [method, pcId, value, clientTs, seq]>'}
//   {statsSessionId, type: 'keepalive'}
// and the server answers {type: 'sn', body: {value: lastSeq, state?: 'initial'}}:
// the client sends nothing before the `initial` one, then resends what it
// buffered after `value` (so a resumed session repeats nothing).
import type { AppendResult } from '../log/store.ts';
import type { NewEvent } from '../log/catalogue.ts';
import { AppError } from '../errors.ts';
import { PeerTrace, type JoinKey, type TraceContext, type TraceEntry } from './peerTrace.ts';

export type SessionLimits = {
  /** Traced peer connections per session (more are refused). */
  maxPeers: number;
};

/** Where a session's events go: the event log, or a collector (dump import validates a whole dump before appending any of it). */
export type TraceSink = { append(stream: string, events: NewEvent[]): Promise<AppendResult> };

/** Finds the server connection a key belongs to (the store's `connectionNegotiatedWith`). */
export type ConnectionLookup = (key: JoinKey) => Promise<string | null> | string | null;

export type MessageOutcome =
  | { kind: 'appended'; append: Promise<AppendResult> | null; seq: number | null }
  | { kind: 'keepalive' }
  | { kind: 'duplicate'; seq: number };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** [method, pcId, value, clientTs, seq?] -> a TraceEntry, or a 422 saying what is wrong. */
export function parseEntry(data: unknown): TraceEntry {
  if (!Array.isArray(data) || data.length < 3 || data.length > 5) {
    throw new AppError('VALIDATION_FAILED', 'a stats entry is [method, peer connection id, value, client time, sequence]');
  }
  const [method, pcId, value, clientTs, seq] = data;
  if (typeof method !== 'string' || method.length === 0 || method.length > 100) throw new AppError('VALIDATION_FAILED', 'the method must be a string of 1 to 100 characters');
  if (pcId !== null && (typeof pcId !== 'string' || !/^[\w.:-]{1,100}$/.test(pcId))) {
    throw new AppError('VALIDATION_FAILED', 'the peer connection id must be null or up to 100 letters, digits, "_", ".", ":", "-"');
  }
  if (seq !== undefined && (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0)) throw new AppError('VALIDATION_FAILED', 'the sequence number must be a whole number');
  return { method, pcId: pcId as string | null, value, clientTs: finite(clientTs), seq: (seq as number | undefined) ?? null };
}

/** The identity message's object (its third element), bounded by the message it came in. */
function identityOf(data: unknown): Record<string, unknown> | null {
  if (!Array.isArray(data)) throw new AppError('VALIDATION_FAILED', 'identity data must be an array');
  const found = data.find(isObject);
  return found ? (found as Record<string, unknown>) : null;
}

export class TraceSession {
  private readonly peers = new Map<string, PeerTrace>();
  private identity: Record<string, unknown> | null = null;
  /** The highest sequence number recorded; repeats at or below it are dropped. */
  lastSeq = 0;
  ended = false;

  constructor(
    readonly id: string,
    private readonly log: TraceSink,
    private readonly context: Omit<TraceContext, 'sessionId' | 'identity'>,
    private readonly limits: SessionLimits,
    private readonly lookup: ConnectionLookup,
  ) {}

  get peerCount(): number {
    return this.peers.size;
  }

  /** Handles one protocol message (already JSON-parsed). Throws an AppError (4xx) for one that breaks the protocol. */
  handleMessage(message: unknown): MessageOutcome {
    if (!isObject(message)) throw new AppError('VALIDATION_FAILED', 'a message is a JSON object with a type');
    if (message.statsSessionId !== undefined && message.statsSessionId !== this.id) {
      throw new AppError('VALIDATION_FAILED', 'statsSessionId differs from the one the session was opened with');
    }
    switch (message.type) {
      case 'keepalive':
        return { kind: 'keepalive' };
      case 'identity': {
        const data = message.data;
        const seq = Array.isArray(data) ? finite(data[data.length - 1]) : null;
        if (seq !== null && seq <= this.lastSeq) return { kind: 'duplicate', seq };
        this.identity = identityOf(data);
        if (seq !== null) this.lastSeq = seq;
        return { kind: 'appended', append: null, seq };
      }
      case 'stats-entry': {
        let data: unknown = message.data;
        if (typeof data === 'string') {
          try {
            data = JSON.parse(data);
          } catch {
            throw new AppError('INVALID_JSON', 'stats-entry data is not valid JSON');
          }
        }
        const entry = parseEntry(data);
        if (entry.seq !== null && entry.seq <= this.lastSeq) return { kind: 'duplicate', seq: entry.seq };
        const append = this.handleEntry(entry);
        if (entry.seq !== null) this.lastSeq = entry.seq;
        return { kind: 'appended', append, seq: entry.seq };
      }
      default:
        throw new AppError('VALIDATION_FAILED', `unknown message type ${JSON.stringify(String(message.type)).slice(0, 60)} (identity, stats-entry or keepalive)`);
    }
  }

  /** Records one entry: its events in one append, then a correlation if it revealed a key the log knows. */
  handleEntry(entry: TraceEntry): Promise<AppendResult> {
    if (this.ended) throw new AppError('CONFLICT', 'the session has ended');
    const pcId = entry.pcId ?? 'page';
    let peer = this.peers.get(pcId);
    if (!peer) {
      if (this.peers.size >= this.limits.maxPeers) {
        throw new AppError('VALIDATION_FAILED', `a session traces at most ${this.limits.maxPeers} peer connections`);
      }
      peer = new PeerTrace(pcId, { ...this.context, sessionId: this.id, identity: this.identity });
      this.peers.set(pcId, peer);
    }
    const { events, keys } = peer.handle(entry);
    const appended = this.log.append(peer.stream, events);
    if (keys.length) this.correlate(peer, keys);
    return appended;
  }

  private lookups: Promise<unknown> = Promise.resolve();

  /**
   * Looks the keys up (after the entry that revealed them is queued, so the
   * stream stays in arrival order) and records the first that names a
   * connection. Look-ups run one after another per session.
   */
  private correlate(peer: PeerTrace, keys: JoinKey[]) {
    this.lookups = this.lookups.then(async () => {
      for (const key of keys) {
        if (peer.correlatedWith) return;
        const connectionId = await this.lookup(key);
        if (connectionId && !peer.correlatedWith) {
          peer.correlatedWith = connectionId;
          await this.log
            .append(peer.stream, [{ type: 'client.correlated', data: { connection_id: connectionId, by: key.by, key: key.key } }])
            .catch(() => undefined);
        }
      }
    });
  }

  /** Resolves when every look-up started so far has finished (and its correlation is queued). */
  settled(): Promise<void> {
    return this.lookups.then(() => undefined);
  }

  /** Closes every traced peer connection still open, with `reason`. */
  async end(reason: string): Promise<unknown> {
    if (this.ended) return;
    this.ended = true;
    // A correlation still being looked up lands before the close.
    await this.settled();
    const appends: Promise<unknown>[] = [];
    for (const peer of this.peers.values()) {
      if (peer.closed) continue;
      peer.closed = true;
      const closed: NewEvent = { type: 'client.closed', data: { reason, client_ts: null } };
      appends.push(this.log.append(peer.stream, [closed]).catch(() => undefined));
    }
    return Promise.all(appends);
  }
}
