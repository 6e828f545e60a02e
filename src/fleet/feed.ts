// The fleet monitor's live feed: the events of every node as the projector
// applies them. One LISTEN session per fleet monitor process (not one per
// client) hears the projector's page commits on EVENTS_CHANNEL and wakes
// every feed client; clients also look again after `pollMs` whatever
// happens, so a notification lost with a dropped session delays an event by
// that much at most, never loses it (clients read from the database, by
// their own cursor; a notification only says "look").
//
// Cursors are per node: { node -> the last node position sent }. Each node
// writes its positions in order and the projector's cursor for a node only
// moves after the rows up to it committed, so reading node by node up to
// the projector's cursor never skips a row, where paging by the centre's
// `position` would (PostgreSQL commits concurrent inserts out of order).
// Node positions never change, so a cursor survives `fleet rebuild` and a
// projector takeover, which a sequence made by the projector would not.
import type { Logger } from 'pino';
import { NODE_ID_PATTERN } from '../config.ts';
import { AppError } from '../errors.ts';
import { backoffDelay } from '../backoff.ts';
import { EVENTS_CHANNEL, PROJECTED_PREFIX } from './coordination.ts';
import { centreClient, describeError, endQuietly, type CentreClient } from './pg.ts';

/** Where a reader is in each node's log: `edge-1:120,edge-2:57` (node names have no `:` or `,`). */
export type NodeCursor = Map<string, number>;

export function encodeNodeCursor(cursor: NodeCursor): string {
  return [...cursor].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, p]) => `${n}:${p}`).join(',');
}

/** Parses a cursor a client sends back (`after`, Last-Event-ID); a 400 for anything else. At most `maxNodes` entries. */
export function decodeNodeCursor(text: string, maxNodes = 1000): NodeCursor {
  const out: NodeCursor = new Map();
  if (text.trim() === '') return out;
  const parts = text.split(',');
  if (parts.length > maxNodes) throw new AppError('BAD_REQUEST', `cursor: more than ${maxNodes} nodes`);
  for (const part of parts) {
    const m = /^([^:]+):(\d{1,15})$/.exec(part.trim());
    if (!m || !NODE_ID_PATTERN.test(m[1]) || out.has(m[1])) {
      throw new AppError('BAD_REQUEST', 'cursor: expected node:position pairs separated by commas (the next_after or id the fleet gave)');
    }
    out.set(m[1], Number(m[2]));
  }
  return out;
}

export class FleetFeed {
  private readonly listeners = new Set<() => void>();
  private client: CentreClient | null = null;
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  /** Whether the LISTEN session is up (else clients rely on polling alone). */
  listening = false;
  notifications = 0;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    /** The longest a client waits without a notification before looking again. */
    readonly pollMs: number,
  ) {}

  /** Told at each projected page (any node); returns an unsubscribe. */
  onProjected(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = centreClient(this.url, { applicationName: 'webrtc-monitor fleet feed' });
    client.on('notification', (message) => {
      if (!message.payload?.startsWith(PROJECTED_PREFIX)) return;
      this.notifications++;
      for (const listener of [...this.listeners]) listener();
    });
    client.on('error', (err) => this.lost(client, err));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      this.client = client;
      this.listening = true;
      this.failures = 0;
      if (this.stopped) await this.stop();
    } catch (err) {
      this.lost(client, err);
    }
  }

  private lost(client: CentreClient, err: unknown) {
    if (this.client === client) this.client = null;
    this.listening = false;
    void endQuietly(client);
    if (this.stopped || this.retry) return;
    this.failures++;
    const delay = backoffDelay(this.failures, { initialMs: 250, maxMs: 5_000 });
    this.logger.warn({ err: describeError(err), retryInMs: delay }, 'fleet feed: lost its LISTEN session; clients poll meanwhile');
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, delay);
    // Wake the clients now: they read what committed before the session went.
    for (const listener of [...this.listeners]) listener();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.listening = false;
    const client = this.client;
    this.client = null;
    await endQuietly(client);
  }
}
