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
import { streamName } from '../log/catalogue.ts';
import { parsed, type MonitorReads } from '../projections/reads.ts';
import type { ConnectionModel } from '../projections/connection.ts';
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

/** One exported event as one line of JSON, spliced from the stored row (data and meta as stored). */
function eventLine(e: EventRow, iso: (ms: number) => string): string {
  return `{"position":${e.position},"version":${e.version},"type":${JSON.stringify(e.type)},"recorded_at":"${iso(e.recordedAt)}","data":${e.data},"meta":${e.meta}}`;
}

/** Writes `{ head..., "events": [ ...every event of the stream, one per line... ] }` page by page. */
async function writeStreamFile(store: EventStore, path: string, head: Record<string, unknown>, stream: string): Promise<number> {
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
    file.write(events ? '\n  ]\n}\n' : ']\n}\n');
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
  const events = await writeStreamFile(store, path, { format: CONNECTION_FORMAT, connection: c, tasks }, streamName('connection', c.id));
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
  await mkdir(join(options.out, 'connections'), { recursive: true });
  await mkdir(join(options.out, 'operations'), { recursive: true });
  const progress: ExportProgress = { connections: 0, operations: 0, events: 0 };
  const since = options.since ?? 0;

  if (options.connectionId) {
    const c = await reads.connection(options.connectionId);
    if (c) {
      progress.events += (await writeConnectionFile(store, reads, options.out, c)).events;
      progress.connections++;
    }
  } else {
    await eachPage(
      (after) => reads.connectionsForExport({ after, limit: MODELS_PAGE, activeSince: since }),
      async (c) => {
        options.signal?.throwIfAborted();
        progress.events += (await writeConnectionFile(store, reads, options.out, c)).events;
        progress.connections++;
        options.onProgress?.(progress);
      },
    );
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
