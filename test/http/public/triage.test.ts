// The dashboard's triage rules (src/http/public/triage.js), run in Node: the
// module is plain browser JavaScript with no DOM, loaded as the page loads it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Connection = Record<string, unknown> & { id: string; category: string; created_position: number };
type Event = { type: string; position: number; recorded_at: string; data: Record<string, unknown> };
type Triage = {
  HEALTH: Record<string, { rank: number; glyph: string; label: string }>;
  healthOf(c: Partial<Connection>): string;
  SORTS: Record<string, (a: Connection, b: Connection) => number>;
  describe(e: Event): string;
  severity(e: Event): string;
  markers(events: Event[]): { t: number; kind: string; label: string }[];
  framesPerSecond(samples: Event[], i: number, windowMs?: number): number | null;
};
// A path TypeScript does not resolve: the module has no types of its own.
const triage = (await import(pathToFileURL(resolve(import.meta.dirname, '../../../src/http/public/triage.js')).href)) as Triage;

let position = 0;
const connection = (id: string, fields: Partial<Connection>): Connection => ({ id, category: 'connected', created_position: ++position, outcome: null, stalled: false, ...fields });
const event = (type: string, data: Record<string, unknown>, at = '2026-01-31T12:00:00.000Z'): Event => ({ type, position: ++position, recorded_at: at, data });

const healthOf = suite('healthOf');
healthOf('names a failure whatever the state now, then stalled, disconnected, connecting, healthy and ended', () => {
  assert.is(triage.healthOf({ category: 'closed', outcome: 'failed' }), 'failed');
  assert.is(triage.healthOf({ category: 'failed' }), 'failed');
  assert.is(triage.healthOf({ category: 'connected', stalled: true }), 'stalled');
  assert.is(triage.healthOf({ category: 'disconnected' }), 'disconnected');
  assert.is(triage.healthOf({ category: 'new' }), 'connecting');
  assert.is(triage.healthOf({ category: 'connecting' }), 'connecting');
  assert.is(triage.healthOf({ category: 'connected' }), 'healthy');
  assert.is(triage.healthOf({ category: 'closed', outcome: 'clean' }), 'ended');
});
healthOf('gives each health its own glyph or label, so none is told by colour alone', () => {
  const looks = Object.values(triage.HEALTH).map((h) => `${h.glyph} ${h.label}`);
  assert.is(new Set(looks).size, looks.length);
  assert.equal(Object.entries(triage.HEALTH).sort((a, b) => a[1].rank - b[1].rank).map(([k]) => k), ['failed', 'stalled', 'disconnected', 'connecting', 'healthy', 'ended']);
});
healthOf.run();

const sorts = suite('SORTS');
sorts('puts problems first (failed, stalled, ...) and the newest first within one health', () => {
  const list = [
    connection('ok-old', {}),
    connection('ended', { category: 'closed', outcome: 'clean' }),
    connection('stalled', { stalled: true }),
    connection('failed', { category: 'closed', outcome: 'failed' }),
    connection('ok-new', {}),
  ];
  assert.equal([...list].sort(triage.SORTS.problems).map((c) => c.id), ['failed', 'stalled', 'ok-new', 'ok-old', 'ended']);
  assert.equal([...list].sort(triage.SORTS.oldest).map((c) => c.id), list.map((c) => c.id));
  assert.equal([...list].sort(triage.SORTS.newest).map((c) => c.id), list.map((c) => c.id).reverse());
});
sorts('sorts by score worst first and by RTT highest first, an ended connection\'s figures counting as unknown', () => {
  const list = [
    connection('good', { quality_score: 95, latest_stats: { rtt_ms: 5 } }),
    connection('ended', { category: 'closed', quality_score: 10, latest_stats: { rtt_ms: 900 } }),
    connection('bad', { quality_score: 40, latest_stats: { rtt_ms: 300 } }),
    connection('unknown', { quality_score: null, latest_stats: null }),
  ];
  assert.equal([...list].sort(triage.SORTS.score).map((c) => c.id), ['bad', 'good', 'unknown', 'ended']);
  assert.equal([...list].sort(triage.SORTS.rtt).map((c) => c.id).slice(0, 2), ['bad', 'good']);
});
sorts.run();

const severity = suite('severity');
severity('flags errors, failures, a consent expiry and critical issues as bad; stalls, disconnects and warnings as warn', () => {
  assert.is(triage.severity(event('connection.error', { code: 'CONSENT_EXPIRED', message: 'x', fatal: true })), 'bad');
  assert.is(triage.severity(event('connection.state_changed', { kind: 'connection', from: 'connected', to: 'failed' })), 'bad');
  assert.is(triage.severity(event('connection.closed', { initiator: 'ice', reason: 'consent_expired' })), 'bad');
  assert.is(triage.severity(event('issue.raised', { severity: 'critical', type: 'connection_failed', message: 'm' })), 'bad');
  assert.is(triage.severity(event('issue.raised', { severity: 'warning', type: 'stalled', message: 'm' })), 'warn');
  assert.is(triage.severity(event('connection.stalled', { silent_ms: 2000 })), 'warn');
  assert.is(triage.severity(event('connection.state_changed', { kind: 'ice', from: 'connected', to: 'disconnected' })), 'warn');
  assert.is(triage.severity(event('connection.closed', { initiator: 'remote', reason: 'whep_delete' })), '');
  assert.is(triage.severity(event('connection.state_changed', { kind: 'connection', from: 'connecting', to: 'connected' })), '');
});
severity.run();

const markers = suite('markers');
markers('marks connection state changes, quality changes, stalls, resumes, errors and issues raised and resolved, at their times', () => {
  const at = '2026-01-31T12:00:01.500Z';
  const got = triage.markers([
    event('connection.state_changed', { kind: 'connection', from: 'connecting', to: 'connected' }, at),
    event('connection.state_changed', { kind: 'ice', from: 'checking', to: 'connected' }, at),
    event('connection.quality_changed', { from: 'high', to: 'low' }, at),
    event('connection.stalled', { silent_ms: 2000 }, at),
    event('connection.resumed', { stalled_ms: 300, via: ['rtp'] }, at),
    event('connection.error', { code: 'X', message: 'm' }, at),
    event('connection.state_changed', { kind: 'connection', from: 'connected', to: 'failed' }, at),
    event('issue.raised', { severity: 'warning', type: 'stalled', message: 'silent' }, at),
    event('issue.updated', { severity: 'warning', type: 'stalled', message: 'silent' }, at),
    event('issue.resolved', { resolution: 'cleared', type: 'stalled', duration_ms: 1000 }, at),
    event('connection.track_added', { kind: 'video' }, at),
  ]);
  assert.equal(got.map((m) => m.kind), ['state', 'quality', 'stall', 'resumed', 'error', 'error', 'issue', 'resolved']);
  assert.ok(got.every((m) => m.t === Date.parse(at)));
  assert.is(got[1].label, 'quality high → low');
  assert.is(got[6].label, 'issue raised (warning) stalled: silent');
});
markers.run();

const fps = suite('framesPerSecond');
fps('is the frames sent over the last second of samples, and unknown without both counts', () => {
  const sample = (ms: number, frames: number | null) => event('connection.stats_sampled', { frames_sent: frames }, new Date(Date.UTC(2026, 0, 31, 12, 0, 0, ms)).toISOString());
  // A quarter-second apart, 1 or 2 frames each: 6 frames over the last second.
  const samples = [sample(0, 100), sample(250, 101), sample(500, 103), sample(750, 104), sample(1000, 106), sample(1250, 107)];
  assert.is(triage.framesPerSecond(samples, 5), 6);
  assert.is(triage.framesPerSecond(samples, 4), 6);
  // Less than a second of history: over what there is.
  assert.is(triage.framesPerSecond(samples, 2), 6);
  assert.is(triage.framesPerSecond(samples, 0), null);
  assert.is(triage.framesPerSecond([sample(0, null), sample(1000, 10)], 1), null);
  assert.is(triage.framesPerSecond([sample(0, 10), sample(1000, null)], 1), null);
  // A counter that went back (a new sender) is no negative rate.
  assert.is(triage.framesPerSecond([sample(0, 50), sample(1000, 5)], 1), 0);
});
fps.run();
