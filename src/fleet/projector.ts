// The fleet projector: the central events into the fleet read models, by the
// node's own reducers (src/projections/apply.ts), one node at a time.
//
// Each node has a cursor (fleet_cursors): the last node position applied.
// A page is that node's next events by node_position, and the page's
// read-model writes and the cursor's advance commit in one transaction, so a
// projector that dies mid-page leaves the page unapplied, never half applied.
// Paging per node by node_position is what makes this complete: each node's
// forwarder writes its positions in order, one batch after the other, while
// the central `position` of concurrent batches from several nodes commits
// out of order (a reader paging by it skips rows; DESIGN.md section 11).
//
// One process projects at a time: it holds a session advisory lock on the
// connection it projects through, so if that process or its connection dies
// the lock goes with it, and a standby (polling for the lock) takes over
// from the cursors. Any number of processes may read the models meanwhile.
import type { Logger } from 'pino';
import type { StoredEvent } from '../log/catalogue.ts';
import { AppError } from '../errors.ts';
import { applyEvent, entitiesRead, type ModelAccess, type ModelKind, type Models } from '../projections/apply.ts';
import { centreClient, describeError, endQuietly, inTransaction, type CentreClient } from './pg.ts';
import { migrateCentre } from './migrate.ts';
import { EVENTS_CHANNEL, PROJECTED_PREFIX, PROJECTOR_LOCK } from './coordination.ts';
import type { ConnectionModel } from '../projections/connection.ts';
import { connectionsModel } from '../projections/models/index.ts';
import { loadModels, loadSummary, saveModels, saveSummary, type ChangedModels } from './readModels.ts';
import { backoffDelay } from '../backoff.ts';

type EventRecord = { node_position: number; stream: string; version: number; type: string; data: string; meta: string; recorded_at: number };

/** Nodes whose forwarded events are ahead of their cursor. */
export async function nodesWithWork(client: CentreClient): Promise<string[]> {
  const { rows } = await client.query<{ node: string }>(
    `SELECT n.node FROM nodes n LEFT JOIN fleet_cursors c ON c.node = n.node
     WHERE n.head_position > coalesce(c.position, 0) ORDER BY n.node`,
  );
  return rows.map((r) => r.node);
}

/**
 * Applies the next page of `node`'s events (at most `pageSize`) to the read
 * models and moves its cursor. Run it inside a transaction. Answers how
 * many events it applied (0: the node is caught up).
 */
export async function projectPage(client: CentreClient, node: string, pageSize: number): Promise<number> {
  // The cursor row exists, and is locked for the rest of the transaction.
  await client.query('INSERT INTO fleet_cursors (node, position, updated_at) VALUES ($1, 0, 0) ON CONFLICT (node) DO NOTHING', [node]);
  const cursorRow = await client.query<{ position: number }>('SELECT position FROM fleet_cursors WHERE node = $1 FOR UPDATE', [node]);
  const cursor = cursorRow.rows[0].position;
  const page = await client.query<EventRecord>({
    name: 'fleet-node-page',
    text: `SELECT node_position, stream, version, type, data, meta, recorded_at FROM events
           WHERE node = $1 AND node_position > $2 ORDER BY node_position LIMIT $3`,
    values: [node, cursor, pageSize],
  });
  if (page.rows.length === 0) return 0;
  // Reducers see the event as the node's own projector saw it: position is the node's.
  const events = page.rows.map(
    (r): StoredEvent =>
      ({
        position: r.node_position,
        stream: r.stream,
        version: r.version,
        type: r.type,
        data: JSON.parse(r.data),
        meta: JSON.parse(r.meta),
        recordedAt: r.recorded_at,
      }) as StoredEvent,
  );

  // Load every entity the page reads in one query per kind, then apply in memory.
  const wanted: Record<ModelKind, Set<string>> = { connection: new Set(), operation: new Set(), task: new Set() };
  for (const e of events) for (const { kind, id } of entitiesRead(e)) wanted[kind].add(id);
  const known: { [K in ModelKind]: Map<string, Models[K] | null> } = {
    connection: await loadModels(client, node, 'connection', [...wanted.connection]),
    operation: await loadModels(client, node, 'operation', [...wanted.operation]),
    task: await loadModels(client, node, 'task', [...wanted.task]),
  };
  const dirty: Record<ModelKind, Set<string>> = { connection: new Set(), operation: new Set(), task: new Set() };
  // As on the node (src/projections/sqlite/projector.ts): a connection's full row as of its last
  // event that is not hot-only, or its first; its hot row for every event.
  const connectionState = new Map<string, ConnectionModel>();
  const models: ModelAccess = {
    get: (kind, id) => (known[kind] as Map<string, Models[typeof kind] | null>).get(id) ?? null,
    put: (kind, id, model, event, before) => {
      (known[kind] as Map<string, Models[typeof kind] | null>).set(id, model);
      dirty[kind].add(id);
      if (kind === 'connection' && model && (before === null || !connectionsModel.hot.only(event))) connectionState.set(id, model as ConnectionModel);
    },
  };
  let summary = await loadSummary(client, node);
  for (const event of events) summary = applyEvent(models, summary, event);

  const changed = <K extends ModelKind>(kind: K) =>
    [...dirty[kind]].map((id) => (known[kind] as Map<string, Models[K] | null>).get(id)).filter((m): m is Models[K] => !!m);
  const toSave: ChangedModels = { connection: changed('connection'), connectionState: [...connectionState.values()], operation: changed('operation'), task: changed('task') };
  await saveModels(client, node, toSave);
  await saveSummary(client, node, summary);
  const last = events[events.length - 1].position;
  await client.query('UPDATE fleet_cursors SET position = $2, updated_at = $3 WHERE node = $1', [node, last, Date.now()]);
  // Delivered on commit: the fleet monitors' live feeds read up to the cursors, so they wake on this.
  await client.query(`SELECT pg_notify('${EVENTS_CHANNEL}', $1)`, [`${PROJECTED_PREFIX}${node}`]);
  return events.length;
}

/** Projects every node until none has work left; each page its own transaction. Answers the events applied. */
export async function catchUp(client: CentreClient, pageSize: number, shouldStop: () => boolean = () => false): Promise<number> {
  let applied = 0;
  for (;;) {
    const nodes = await nodesWithWork(client);
    if (nodes.length === 0) return applied;
    // One page per node per round, so a node with a long backlog does not hold the others back.
    for (const node of nodes) {
      if (shouldStop()) return applied;
      applied += await inTransaction(client, () => projectPage(client, node, pageSize));
    }
  }
}

export const PROJECTOR_ROLES = ['connecting', 'standby', 'projecting', 'stopped'] as const;
export type ProjectorRole = (typeof PROJECTOR_ROLES)[number];

export type FleetProjectorOptions = {
  url: string;
  pageSize: number;
  /** With nothing to do, look again this often (a notification usually comes first). */
  pollMs: number;
  /** A standby tries to take the projection lock this often. */
  takeoverPollMs: number;
  logger: Logger;
  /** Told each time the role changes (the CLI prints it). */
  onRole?: (role: ProjectorRole) => void;
};

/** Runs until stop(): connects, waits for the projection lock, then projects as events arrive. */
export class FleetProjector {
  role: ProjectorRole = 'connecting';
  eventsApplied = 0;
  private stopped = false;
  private client: CentreClient | null = null;
  private wake: (() => void) | null = null;
  /** A notification came since the last look: look again before pausing. */
  private notified = false;
  private runner: Promise<void> | null = null;

  constructor(private readonly options: FleetProjectorOptions) {}

  start(): void {
    this.runner ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.runner;
    this.setRole('stopped');
  }

  private setRole(role: ProjectorRole) {
    if (role === this.role) return;
    this.role = role;
    this.options.logger.info({ role }, `fleet projector: ${role}`);
    this.options.onRole?.(role);
  }

  /** Waits up to `ms`, or until stop() or a notification. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.session();
        failures = 0;
      } catch (err) {
        failures++;
        const delay = backoffDelay(failures, { initialMs: 250, maxMs: 10_000 });
        this.options.logger.warn({ err: describeError(err), retryInMs: delay }, 'fleet projector: lost the central database; trying again');
        this.setRole('connecting');
        await this.pause(delay);
      } finally {
        await endQuietly(this.client);
        this.client = null;
      }
    }
  }

  /** One session: connect, become the projector (or wait to), project until stopped or the session breaks. */
  private async session(): Promise<void> {
    const client = centreClient(this.options.url, { applicationName: 'webrtc-monitor fleet projector' });
    this.client = client;
    let broken: unknown = null;
    client.on('error', (err) => {
      broken = err;
      this.wake?.();
    });
    client.on('notification', (message) => {
      // Its own (and other projectors') page commits are no new work.
      if (message.payload?.startsWith(PROJECTED_PREFIX)) return;
      this.notified = true;
      this.wake?.();
    });
    await client.connect();
    await migrateCentre(client);
    for (;;) {
      if (this.stopped) return;
      if (broken) throw broken;
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PROJECTOR_LOCK]);
      if (rows[0].locked) break;
      this.setRole('standby');
      await this.pause(this.options.takeoverPollMs);
    }
    // The lock is this session's: it is released when the session ends, however it ends.
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.setRole('projecting');
    while (!this.stopped) {
      if (broken) throw broken;
      this.notified = false;
      const applied = await catchUp(client, this.options.pageSize, () => this.stopped);
      this.eventsApplied += applied;
      if (applied === 0 && !this.notified) await this.pause(this.options.pollMs);
    }
  }
}

export type FleetRebuildReport = { events: number; nodes: number; durationMs: number; eventsPerSecond: number };

/**
 * `fleet rebuild`: replays every node's central events into emptied read
 * models, in one transaction, through the same pages the projector applies.
 * Readers see the old models until it commits. It takes the projection lock
 * and refuses while a projector holds it.
 */
export async function rebuildFleet(url: string, options: { pageSize?: number } = {}): Promise<FleetRebuildReport> {
  const pageSize = options.pageSize ?? 5000;
  const started = performance.now();
  const client = centreClient(url, { applicationName: 'webrtc-monitor fleet rebuild', statementTimeoutMs: 0 });
  client.on('error', () => {});
  try {
    await client.connect();
    await migrateCentre(client);
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PROJECTOR_LOCK]);
    if (!rows[0].locked) {
      throw new AppError('CONFLICT', 'a fleet projector holds the projection lock: stop every `webrtc-monitor fleet project` first');
    }
    let events = 0;
    let nodes = 0;
    await inTransaction(client, async () => {
      // DELETE, not TRUNCATE: TRUNCATE would lock readers out until the commit.
      for (const table of ['connections', 'connection_stats', 'operations', 'tasks', 'summary', 'fleet_cursors']) await client.query(`DELETE FROM ${table}`);
      for (const node of await nodesWithWork(client)) {
        nodes++;
        for (;;) {
          const n = await projectPage(client, node, pageSize);
          events += n;
          if (n === 0) break;
        }
      }
    });
    const durationMs = performance.now() - started;
    return { events, nodes, durationMs, eventsPerSecond: events / Math.max(durationMs / 1000, 1e-9) };
  } finally {
    await endQuietly(client);
  }
}
