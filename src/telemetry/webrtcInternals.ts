// chrome://webrtc-internals dumps ("Create dump"): one JSON object with, per
// peer connection (`PeerConnections["<pid>-<lid>"]`), its configuration,
// an update log ({time, type, value}) and its getStats() history as one
// series per report field (`"<report id>-<field>": {statsType, values:
// "[...]"}`). Each peer connection becomes a client stream like a live
// rtcstats trace: the update log as traces and state changes, the series put
// back together into one whole report per sampling time (the report's
// `timestamp` series gives the times). A dump has no server order, so its
// entries go in by the time Chrome wrote (the only order it has).
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { StatsReport } from './stats.ts';
import { TraceSession, type ConnectionLookup } from './session.ts';
import type { TraceContext, TraceEntry } from './peerTrace.ts';
import type { DumpImport } from './dump.ts';
import { validateEvent, type NewEvent } from '../log/catalogue.ts';
import type { AppendResult } from '../log/store.ts';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const STATE_TYPES: Record<string, string> = {
  iceconnectionstatechange: 'oniceconnectionstatechange',
  connectionstatechange: 'onconnectionstatechange',
  signalingstatechange: 'onsignalingstatechange',
  icegatheringstatechange: 'onicegatheringstatechange',
};

export function isWebrtcInternalsDump(value: unknown): value is { PeerConnections: Record<string, unknown> } {
  return isObject(value) && isObject(value.PeerConnections);
}

/**
 * An update-log value: Chromium writes JSON text (`"stable"`, `{"type":"answer","sdp":…}`);
 * older versions wrote `type: answer, sdp: v=0…` for descriptions.
 */
function updateValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const m = /^type: (\w+), sdp: (v=0[\s\S]*)$/.exec(value);
  if (m) return { type: m[1], sdp: m[2] };
  if (value === '') return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** One whole report per sampling time, from the per-field series. */
export function reportsFromSeries(stats: Record<string, unknown>): { time: number; report: StatsReport }[] {
  const series = new Map<string, { type: string; fields: Map<string, unknown[]> }>();
  for (const [key, entry] of Object.entries(stats)) {
    if (!isObject(entry) || typeof entry.values !== 'string') continue;
    // Bracketed keys are the page's derived graphs ("[framesReceived-framesDecoded]"), not fields.
    if (key.includes('[')) continue;
    const dash = key.lastIndexOf('-');
    if (dash <= 0) continue;
    const id = key.slice(0, dash);
    const field = key.slice(dash + 1);
    let values: unknown;
    try {
      values = JSON.parse(entry.values);
    } catch {
      throw new AppError('VALIDATION_FAILED', `stats series ${key.slice(0, 100)}: values are not JSON`);
    }
    if (!Array.isArray(values)) continue;
    const s = series.get(id) ?? { type: String(entry.statsType ?? ''), fields: new Map() };
    s.fields.set(field, values);
    series.set(id, s);
  }
  // One getStats() call stamps its reports a few milliseconds apart; the
  // page samples once a second, so reports within half a second are one sample.
  const byTime = new Map<number, { time: number; report: StatsReport }>();
  for (const [id, s] of series) {
    const times = s.fields.get('timestamp');
    if (!times) continue;
    times.forEach((t, i) => {
      if (typeof t !== 'number') return;
      const bucket = Math.round(t / 500);
      const sample = byTime.get(bucket) ?? { time: t, report: {} };
      const r: Record<string, unknown> = { id, type: s.type, timestamp: t };
      for (const [field, values] of s.fields) if (field !== 'timestamp' && values[i] !== undefined) r[field] = values[i];
      sample.report[id] = r;
      sample.time = Math.max(sample.time, t);
      byTime.set(bucket, sample);
    });
  }
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/** Collects appends in memory (validated), as dump.ts does. */
class Collector {
  readonly streams = new Map<string, NewEvent[]>();
  append(stream: string, events: NewEvent[]): Promise<AppendResult> {
    for (const event of events) {
      const checked = validateEvent(event);
      if (!checked.ok) throw new AppError('VALIDATION_FAILED', checked.problem);
    }
    this.streams.set(stream, [...(this.streams.get(stream) ?? []), ...events]);
    return Promise.resolve({ ok: true, firstPosition: 0, lastPosition: 0, nextVersion: 0, recordedAt: 0 });
  }
}

export async function translateWebrtcInternals(
  dump: unknown,
  context: Omit<TraceContext, 'sessionId' | 'identity' | 'source' | 'userAgent'> & { maxPeers: number },
  lookup: ConnectionLookup,
): Promise<DumpImport> {
  if (!isWebrtcInternalsDump(dump)) throw new AppError('VALIDATION_FAILED', 'not a webrtc-internals dump (no PeerConnections object)');
  const sessionId = `webrtc-internals-${randomUUID()}`;
  const collector = new Collector();
  const userAgent = typeof (dump as Record<string, unknown>).UserAgent === 'string' ? String((dump as Record<string, unknown>).UserAgent).slice(0, 500) : null;
  const session = new TraceSession(sessionId, collector, { ...context, source: 'webrtc_internals', userAgent }, { maxPeers: context.maxPeers }, lookup);
  for (const [key, pc] of Object.entries(dump.PeerConnections)) {
    if (!isObject(pc)) continue;
    const pcId = key.replace(/[^\w.:-]/g, '_').slice(0, 100);
    const entries: TraceEntry[] = [];
    const parsedConfig = updateValue(pc.rtcConfiguration);
    const config = isObject(parsedConfig) ? parsedConfig : typeof parsedConfig === 'string' ? { text: parsedConfig.slice(0, 10_000) } : {};
    entries.push({ method: 'create', pcId, value: { ...config, url: typeof pc.url === 'string' ? pc.url.slice(0, 500) : undefined }, clientTs: null, seq: null });
    const log = Array.isArray(pc.updateLog) ? pc.updateLog : [];
    for (const u of log) {
      if (!isObject(u) || typeof u.type !== 'string') continue;
      const when = u.timestamp ?? u.time;
      const t = typeof when === 'number' ? when : typeof when === 'string' ? Date.parse(when) : NaN;
      const method = STATE_TYPES[u.type] ?? u.type;
      let value = updateValue(u.value);
      if (method.endsWith('statechange')) value = String(value ?? '').trim().slice(0, 40);
      entries.push({ method: method.slice(0, 100), pcId, value, clientTs: Number.isFinite(t) ? t : null, seq: null });
    }
    const samples = isObject(pc.stats) ? reportsFromSeries(pc.stats) : [];
    for (const s of samples) entries.push({ method: 'getstats', pcId, value: s.report, clientTs: s.time, seq: null });
    // The dump's own order: by Chrome's time, the update log first on a tie (stable sort).
    const [create, ...rest] = entries;
    rest.sort((a, b) => (a.clientTs ?? 0) - (b.clientTs ?? 0));
    for (const entry of [create, ...rest]) {
      try {
        void session.handleEntry(entry);
      } catch (err) {
        throw new AppError('VALIDATION_FAILED', `peer connection ${pcId}, ${entry.method}: ${(err as Error).message}`);
      }
    }
  }
  await session.end('imported');
  if (collector.streams.size === 0) throw new AppError('VALIDATION_FAILED', 'the dump holds no peer connection');
  return { sessionId, streams: collector.streams };
}
