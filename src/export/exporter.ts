// The JSON log exporter: one file per connection and per operation, in the
// layout <dir>/connections/ and <dir>/operations/. Files are streamed a page of
// events at a time (memory does not grow with the log), written to a temporary
// name and renamed (a reader never sees half a file), and their bytes depend
// only on the log (exporting twice gives identical trees).
//
// Each event is one line spliced from its stored JSON (`data` and `meta` as
// the log holds them, never parsed and re-serialised): that was most of an
// export's time. Files are written with synchronous calls, a buffer of at
// most FLUSH_BYTES at a time: a file system write of that size is shorter
// than the turn an awaited one costs, and pages still yield between them.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EventStore } from '../log/store.ts';
import type { EventRow } from '../log/store.ts';
import { streamName, type StoredEvent } from '../log/catalogue.ts';
import { parsed, type MonitorReads } from '../projections/reads.ts';
import type { ConnectionModel } from '../projections/connection.ts';
import { bothEnds, viewersOf } from '../projections/bothEnds.ts';
import { dumpEntry, dumpHead } from './rtcstatsDump.ts';
import type { OperationModel } from '../projections/operation.ts';
import type { TaskModel } from '../projections/task.ts';
import { connectionFileName, operationFileName } from './paths.ts';

export const CONNECTION_FORMAT = 'webrtc-monitor/connection-log@1';
export const OPERATION_FORMAT = 'webrtc-monitor/operation-log@1';

const PAGE = 2000;
const FLUSH_BYTES = 256 * 1024;

export type ExportOptions = {
  out: string;
  /** Only connections and operations active at or after this time (epoch ms). */
  since?: number;
  /** Only this connection and the operations that name it. */
  connectionId?: string;
  onProgress?: (progress: ExportProgress) => void;
  /** Stops between files when aborted (the file in progress is finished or not written at all). */
  signal?: AbortSignal;
  /** `json` (the default): connections/ and operations/; `rtcstats`: rtcstats/, one dump per connection with both ends. */
  format?: 'json' | 'rtcstats';
};

export type ExportProgress = { connections: number; operations: number; events: number };
export type ExportReport = ExportProgress & { out: string; files: number };

/** A buffered writer to a temporary file that becomes `path` on close. */
class JsonFile {
  private chunks: string[] = [];
  private size = 0;
  private constructor(
    private readonly fd: number,
    private readonly tmp: string,
    private readonly path: string,
  ) {}

  static create(path: string) {
    // A temporary name of its own: two writers of the same file (two POST
    // export, or one beside the --log-dir writer) would otherwise share it,
    // and the second rename would fail. Both write the same bytes; the last
    // rename wins.
    const tmp = `${path}.${randomBytes(6).toString('hex')}.partial`;
    return new JsonFile(openSync(tmp, 'w'), tmp, path);
  }

  write(text: string) {
    this.chunks.push(text);
    this.size += text.length;
    if (this.size >= FLUSH_BYTES) this.flush();
  }

  private flush() {
    if (!this.chunks.length) return;
    writeSync(this.fd, this.chunks.join(''));
    this.chunks = [];
    this.size = 0;
  }

  close() {
    this.flush();
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }

  abandon() {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.tmp, { force: true });
  }
}

const indent = (value: unknown, by: string) => JSON.stringify(value, null, 2).replace(/\n/g, `\n${by}`);

/** ISO text of epoch ms; events committed together share their time, so the last one is kept. */
function isoOf(): (ms: number) => string {
  let lastMs = NaN;
  let lastIso = '';
  return (ms) => {
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    return lastIso;
  };
}

/** An event as the exported files show it (the HTTP API's field names). */
function publicEvent(e: StoredEvent) {
  return { position: e.position, version: e.version, type: e.type, recorded_at: new Date(e.recordedAt).toISOString(), data: e.data, meta: e.meta };
}

/** One exported event as one line of JSON, spliced from the stored row (data and meta as stored). */
function eventLine(e: EventRow, iso: (ms: number) => string): string {
  return `{"position":${e.position},"version":${e.version},"type":${JSON.stringify(e.type)},"recorded_at":"${iso(e.recordedAt)}","data":${e.data},"meta":${e.meta}}`;
}

/**
 * Every event of a few streams in log order, read a page per stream at a
 * time (memory stays a page per stream), yielding the loop between pages.
 */
export async function* inLogOrder(store: EventStore, streams: string[]): AsyncGenerator<StoredEvent> {
  const after = new Map(streams.map((s) => [s, 0]));
  const pages = new Map<string, StoredEvent[]>();
  let n = 0;
  for (;;) {
    for (const s of streams) {
      if ((pages.get(s)?.length ?? 0) === 0 && after.get(s)! >= 0) {
        const page = await store.readStream(s, { afterVersion: after.get(s), limit: PAGE });
        pages.set(s, page);
        after.set(s, page.length < PAGE ? -1 : page[page.length - 1].version);
      }
    }
    let next: string | null = null;
    for (const [s, page] of pages) if (page.length && (next === null || page[0].position < pages.get(next)![0].position)) next = s;
    if (next === null) return;
    yield pages.get(next)!.shift()!;
    if (++n % PAGE === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Writes `{ head..., "events": [ ...every event of the stream, one per line... ] }` page by page. */
async function writeStreamFile(
  store: EventStore,
  path: string,
  head: Record<string, unknown>,
  stream: string,
  /** More streams, written after `events` as `key` (each event naming its stream), in log order. */
  extra?: { key: string; streams: string[] },
): Promise<number> {
  const file = JsonFile.create(path);
  const iso = isoOf();
  let events = 0;
  try {
    let text = '{\n';
    for (const [key, value] of Object.entries(head)) text += `  ${JSON.stringify(key)}: ${indent(value, '  ')},\n`;
    file.write(`${text}  "events": [`);
    let after = 0;
    for (;;) {
      const page = await store.readStreamRows(stream, { afterVersion: after, limit: PAGE });
      for (const e of page) {
        file.write(`${events === 0 ? '\n' : ',\n'}    ${eventLine(e, iso)}`);
        events++;
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1].version;
      // Let the server answer requests between pages of a long stream.
      await new Promise((resolve) => setImmediate(resolve));
    }
    file.write(events ? '\n  ]' : ']');
    if (extra) {
      // The viewers' events: a handful of streams, merged by log position.
      file.write(`,\n  ${JSON.stringify(extra.key)}: [`);
      let written = 0;
      for await (const e of inLogOrder(store, extra.streams)) {
        file.write(`${written === 0 ? '\n' : ',\n'}    ${JSON.stringify({ stream: e.stream, ...publicEvent(e) })}`);
        written++;
        events++;
      }
      file.write(written ? '\n  ]' : ']');
    }
    file.write('\n}\n');
    file.close();
  } catch (err) {
    file.abandon();
    throw err;
  }
  return events;
}

export async function writeConnectionFile(store: EventStore, reads: MonitorReads, dir: string, c: ConnectionModel): Promise<{ path: string; events: number }> {
  const tasks = parsed<TaskModel>(await reads.taskRows({ statuses: [], connectionId: c.id, limit: 1000 })).items.reverse();
  const path = join(dir, 'connections', connectionFileName(c.created_at, c.id));
  // The viewer's end beside the server's (viewer-side telemetry joined to this connection).
  const viewers = await viewersOf(store, c.id);
  const head = viewers.length ? { format: CONNECTION_FORMAT, connection: c, tasks, viewers, both_ends: bothEnds(c, viewers) } : { format: CONNECTION_FORMAT, connection: c, tasks };
  const extra = viewers.length ? { key: 'viewer_events', streams: viewers.map((v) => v.stream) } : undefined;
  const events = await writeStreamFile(store, path, head, streamName('connection', c.id), extra);
  return { path, events };
}

/** One connection, both ends, as an rtcstats dump (src/export/rtcstatsDump.ts). */
export async function writeRtcstatsFile(store: EventStore, _reads: MonitorReads, dir: string, c: ConnectionModel): Promise<{ path: string; events: number }> {
  const viewers = await viewersOf(store, c.id);
  const path = join(dir, 'rtcstats', connectionFileName(c.created_at, c.id).replace(/\.json$/, '.rtcstats'));
  const file = await JsonFile.create(path);
  let events = 0;
  try {
    await file.write(dumpHead({ statsSessionId: c.id, connection_id: c.id, server_id: c.server_id, viewers: viewers.map((v) => v.stream) }));
    let last: number | null = null;
    for await (const e of inLogOrder(store, [streamName('connection', c.id), ...viewers.map((v) => v.stream)])) {
      const entry = dumpEntry(e);
      if (!entry) continue;
      const time: number = last === null ? e.recordedAt : e.recordedAt - last;
      last = e.recordedAt;
      await file.write(`${JSON.stringify([...entry, time])}\n`);
      events++;
    }
    await file.close();
  } catch (err) {
    await file.abandon();
    throw err;
  }
  return { path, events };
}

export async function writeOperationFile(store: EventStore, reads: MonitorReads, dir: string, o: OperationModel): Promise<{ path: string; events: number }> {
  const tasks = parsed<TaskModel>(await reads.taskRows({ statuses: [], operationId: o.id, limit: 1000 })).items.reverse();
  const path = join(dir, 'operations', operationFileName(o.started_at, o.type, o.id));
  const events = await writeStreamFile(store, path, { format: OPERATION_FORMAT, operation: o, tasks }, streamName('operation', o.id));
  return { path, events };
}

/** Models exported per read-model query. */
const MODELS_PAGE = 500;

/** Exports every matching connection and operation, one file each. */
export async function exportLogs(store: EventStore, reads: MonitorReads, options: ExportOptions): Promise<ExportReport> {
  const rtcstats = options.format === 'rtcstats';
  const writeConnection = rtcstats ? writeRtcstatsFile : writeConnectionFile;
  if (rtcstats) await mkdir(join(options.out, 'rtcstats'), { recursive: true });
  else {
    await mkdir(join(options.out, 'connections'), { recursive: true });
    await mkdir(join(options.out, 'operations'), { recursive: true });
  }
  const progress: ExportProgress = { connections: 0, operations: 0, events: 0 };
  const since = options.since ?? 0;

  if (options.connectionId) {
    const c = await reads.connection(options.connectionId);
    if (c) {
      progress.events += (await writeConnection(store, reads, options.out, c)).events;
      progress.connections++;
    }
  } else {
    await eachPage(
      (after) => reads.connectionsForExport({ after, limit: MODELS_PAGE, activeSince: since }),
      async (c) => {
        options.signal?.throwIfAborted();
        progress.events += (await writeConnection(store, reads, options.out, c)).events;
        progress.connections++;
        options.onProgress?.(progress);
      },
    );
  }

  if (rtcstats) {
    options.onProgress?.(progress);
    return { out: options.out, files: progress.connections, ...progress };
  }
  await eachPage(
    (after) => reads.operationsForExport({ after, limit: MODELS_PAGE, activeSince: since, connectionId: options.connectionId }),
    async (o) => {
      options.signal?.throwIfAborted();
      progress.events += (await writeOperationFile(store, reads, options.out, o)).events;
      progress.operations++;
      options.onProgress?.(progress);
    },
  );
  options.onProgress?.(progress);
  return { out: options.out, files: progress.connections + progress.operations, ...progress };
}

/** Visits every model page by page, oldest first (memory holds one page). */
async function eachPage<T extends { created_position: number }>(page: (after: number) => Promise<T[]>, visit: (item: T) => Promise<void>) {
  let after = 0;
  for (;;) {
    const items = await page(after);
    for (const item of items) {
      await visit(item);
      after = item.created_position;
    }
    if (items.length < MODELS_PAGE) return;
  }
}
