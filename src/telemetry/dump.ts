// Whole rtcstats dumps: what rtcstats-server writes per session, one JSON
// array per line ([method, pc id, value, client time], identity lines among
// them), optionally led by the `RTCStatsDump` magic line and a metadata
// object (the format of rtcstats' newer dump importer). A dump goes through
// the same TraceSession as live telemetry, into a collector first: the whole
// dump is translated and every event validated before any is appended, so a
// bad line anywhere leaves nothing written.
import { randomUUID } from 'node:crypto';
import type { AppendResult } from '../log/store.ts';
import { validateEvent, type NewEvent } from '../log/catalogue.ts';
import { AppError, isAppError } from '../errors.ts';
import { TraceSession, type ConnectionLookup, type TraceSink } from './session.ts';
import type { TraceContext } from './peerTrace.ts';

export const RTCSTATS_DUMP_MAGIC = 'RTCStatsDump';

export type ParsedDump = { metadata: Record<string, unknown> | null; lines: unknown[] };

/** Splits a dump into its metadata and entries; a line that is not JSON is a 422 naming it. */
export function parseRtcstatsDump(text: string, maxLines = 1_000_000): ParsedDump {
  const lines = text.split('\n');
  let i = 0;
  let metadata: Record<string, unknown> | null = null;
  if (lines[0]?.trim() === RTCSTATS_DUMP_MAGIC) {
    i = 1;
    try {
      const m = JSON.parse(lines[1] ?? '');
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error('not an object');
      metadata = m;
    } catch {
      throw new AppError('VALIDATION_FAILED', 'line 2 of an RTCStatsDump must be its metadata object');
    }
    i = 2;
  }
  const out: unknown[] = [];
  for (; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    if (out.length >= maxLines) throw new AppError('PAYLOAD_TOO_LARGE', `a dump holds at most ${maxLines} entries`);
    try {
      out.push(JSON.parse(line));
    } catch {
      throw new AppError('VALIDATION_FAILED', `line ${i + 1} is not JSON`);
    }
  }
  if (out.length === 0 && !metadata) throw new AppError('VALIDATION_FAILED', 'the dump is empty');
  return { metadata, lines: out };
}

/** Collects appends in memory, in order, per stream. */
class Collector implements TraceSink {
  readonly streams = new Map<string, NewEvent[]>();
  append(stream: string, events: NewEvent[]): Promise<AppendResult> {
    for (const event of events) {
      const checked = validateEvent(event);
      if (!checked.ok) throw new AppError('VALIDATION_FAILED', checked.problem);
    }
    const list = this.streams.get(stream) ?? [];
    list.push(...events);
    this.streams.set(stream, list);
    return Promise.resolve({ ok: true, firstPosition: 0, lastPosition: 0, nextVersion: 0, recordedAt: 0 });
  }
}

export type DumpImport = { sessionId: string; streams: Map<string, NewEvent[]> };

/** Translates a parsed rtcstats dump into the events of its client streams (nothing appended yet). */
export async function translateRtcstatsDump(
  dump: ParsedDump,
  context: Omit<TraceContext, 'sessionId' | 'identity'> & { maxPeers: number },
  lookup: ConnectionLookup,
): Promise<DumpImport> {
  const given = dump.metadata?.statsSessionId;
  const sessionId = typeof given === 'string' && /^[\w-]{1,100}$/.test(given) ? given : randomUUID();
  const collector = new Collector();
  const session = new TraceSession(sessionId, collector, context, { maxPeers: context.maxPeers }, lookup);
  const format = typeof dump.metadata?.fileFormat === 'number' ? dump.metadata.fileFormat : 0;
  let clock = 0;
  dump.lines.forEach((raw, n) => {
    try {
      let line = raw;
      if (format >= 3 && Array.isArray(raw) && raw.length >= 3) {
        // The format Chromium's webrtc-internals saves ("Download the rtcstats
        // dump", fileFormat 3): the last element is the time, absolute on the
        // first entry and then milliseconds since the previous one; `create`
        // carries the page URL before it; state values are JSON text.
        const time = raw[raw.length - 1];
        if (typeof time === 'number' && Number.isFinite(time)) clock = time > 1e11 ? time : clock + time;
        let value = raw[2];
        if (raw.length === 5 && typeof raw[3] === 'string' && typeof value === 'object' && value !== null && !Array.isArray(value)) value = { ...value, url: raw[3].slice(0, 500) };
        if (typeof raw[0] === 'string' && raw[0].endsWith('statechange') && typeof value === 'string' && value.startsWith('"')) {
          try {
            value = JSON.parse(value);
          } catch {
            // kept as it is: the entry's own check refuses it if it is not a state
          }
        }
        // `create` without a peer connection describes the page (device, screen): the session's identity.
        line = raw[0] === 'create' && raw[1] === null ? ['identity', null, value, clock] : [raw[0], raw[1], value, clock];
      }
      if (Array.isArray(line) && line[0] === 'identity') session.handleMessage({ type: 'identity', data: line });
      else session.handleMessage({ type: 'stats-entry', data: line });
    } catch (err) {
      if (isAppError(err)) throw new AppError(err.code, `entry ${n + 1}: ${err.message}`);
      throw err;
    }
  });
  await session.end('imported');
  return { sessionId, streams: collector.streams };
}

/**
 * Appends what a dump became, every stream in the same turn so the group
 * commit puts them in one transaction. The streams must be new: a dump
 * imported twice is refused (409), not doubled.
 */
export async function appendDump(
  log: { append(stream: string, events: NewEvent[], options?: { expectedVersion?: 'no_stream' }): Promise<AppendResult> },
  imported: DumpImport,
): Promise<{ streams: string[]; events: number }> {
  const entries = [...imported.streams.entries()];
  const results = await Promise.all(entries.map(([stream, events]) => log.append(stream, events, { expectedVersion: 'no_stream' })));
  const conflict = results.findIndex((r: AppendResult) => !r.ok);
  if (conflict >= 0) throw new AppError('CONFLICT', `stream ${entries[conflict][0]} already exists: this session was imported before`);
  return { streams: entries.map(([s]) => s), events: entries.reduce((n, [, e]) => n + e.length, 0) };
}
