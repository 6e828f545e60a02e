// The detectors: one pure function over the log, `(state, input) -> {state,
// emits}`, where an input is a stored event or a tick of the detectors'
// clock (deadlines and hold times pass with no event arriving). No database,
// no clock, no randomness inside: the consumer (consumer.ts) supplies the
// rules, the time of a tick and the ids of new issues, and stores the state
// with its checkpoint.
//
// Two layers. The first folds events into what is known of each subject (a
// connection's set-up, stall, failure and a window of stats samples; running
// operations with their deadlines; abandoned tasks; the fleet forwarder) and
// says, per subject, which conditions hold now. The second is the same
// hysteresis for every condition: `issue.raised` the first time it holds,
// `issue.updated` while it lasts (at most every update_interval_ms, and only
// when its value moved), `issue.resolved` once it has stayed clear for the
// detector's hold_ms (at once, `subject_ended`, when a measured connection
// closes). A condition that is a moment rather than a state (a failure, a
// set-up that completed late) raises and starts clearing at once.
//
// Viewer-side freezes and frame-rate drops come from the viewer's own
// reports: `client.stats_sampled` on a client stream (`client:<session>:<pc>`,
// src/telemetry), joined to the server connection by `client.correlated`.
// Their issues are about that connection (its subject), so they list, close
// and deliver with the server-side ones; a viewer that stops reporting
// decides nothing (its condition clears), and the issue ends with the
// connection or with the last report stream joined to it.
import type { EventType, IssueSeverity, IssueType, NewEvent, StoredEvent } from '../log/catalogue.ts';
import { parseStream } from '../log/catalogue.ts';
import type { Rules } from './rules.ts';

export type Subject = { connection_id: string | null; operation_id: string | null; task_id: string | null; node: string | null };

type Sample = { at: number; rtt: number | null; jitter: number | null; loss: number | null; bps: number | null };

type ConnTrack = {
  createdAt: number;
  connectedAt: number | null;
  setupMs: number | null;
  failedAt: number | null;
  closed: boolean;
  stalled: boolean;
  samples: Sample[];
  baseline: number | null;
};

/** One video track's counters in a viewer's sample: frames decoded, and the freeze time its own stack counted. */
type ViewerVideo = { decoded: number; freezeMs: number | null };
type ViewerSample = { at: number; ts: number | null; video: Record<string, ViewerVideo> };
/** Since when a video track's decoded-frame count has not moved: the first sample that had its current value. */
type StillSince = { decoded: number; at: number; ts: number | null };
type ViewerTrack = { connection_id: string | null; closed: boolean; lastAt: number; samples: ViewerSample[]; still: Record<string, StillSince> };

type OpTrack = { startedAt: number; deadlineAt: number | null; type: string; connection_id: string | null };
type TaskTrack = { name: string; operation_id: string | null; connection_id: string | null; since: number };
type ForwarderTrack = { behind: boolean; failing: boolean; lag_ms: number | null };

export type OpenIssue = {
  id: string;
  type: IssueType;
  subject: Subject;
  /** `connection:<id>`, `operation:<id>`, ...: what it is about. */
  subjectKey: string;
  severity: IssueSeverity;
  raisedAt: number;
  lastUpdateAt: number;
  value: number | null;
  reported: number | null;
  worst: number | null;
  clearSince: number | null;
};

export type DetectorState = {
  /** The detectors' clock: the latest event or tick time seen (never goes back). */
  now: number;
  issues: Record<string, OpenIssue>;
  conns: Record<string, ConnTrack>;
  ops: Record<string, OpTrack>;
  tasks: Record<string, TaskTrack>;
  forwarders: Record<string, ForwarderTrack>;
  /** Viewer report streams by client stream id (`<session>:<pc>`); absent in states saved before they existed. */
  viewers?: Record<string, ViewerTrack>;
};

export const emptyDetectorState = (): DetectorState => ({ now: 0, issues: {}, conns: {}, ops: {}, tasks: {}, forwarders: {}, viewers: {} });

/** The event types the detectors fold; the consumer reads no others. */
export const DETECTED_TYPES: readonly EventType[] = [
  'connection.created',
  'connection.state_changed',
  'connection.error',
  'connection.stalled',
  'connection.resumed',
  'connection.closed',
  'connection.stats_sampled',
  'operation.started',
  'operation.completed',
  'operation.failed',
  'operation.cancelled',
  'task.failed',
  'task.cancelled',
  'task.timed_out',
  'task.settled_late',
  'forwarder.behind',
  'forwarder.failing',
  'forwarder.caught_up',
  'forwarder.connected',
  'client.correlated',
  'client.stats_sampled',
  'client.closed',
];

export type DetectorInput = StoredEvent | { type: 'tick'; at: number };
export type Emit = { stream: string; event: NewEvent };
export type DetectContext = { rules: Rules; newId: () => string };

type Condition = {
  type: IssueType;
  active: boolean;
  /** A moment, not a state: raise if not open, then start clearing. */
  pulse?: boolean;
  value: number | null;
  threshold: number | null;
  message: string;
};

/** Samples kept per connection at most (the longest window decides which). */
const MAX_SAMPLES = 120;
/** Issue types about a measured connection that end when it closes. */
const ENDS_WITH_CONNECTION: ReadonlySet<IssueType> = new Set(['slow_setup', 'stalled', 'high_rtt', 'high_jitter', 'high_loss', 'bitrate_collapse']);
/** Issue types from the viewer's own reports: they end with the connection or with the last report stream joined to it. */
const FROM_VIEWER: ReadonlySet<IssueType> = new Set(['viewer_freeze', 'viewer_low_fps']);
/** Issue types whose worst value is the lowest one. */
const LOWER_IS_WORSE: ReadonlySet<IssueType> = new Set(['viewer_low_fps']);
/** Video tracks kept per viewer sample at most. */
const MAX_VIEWER_TRACKS = 4;

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const noSubject: Subject = { connection_id: null, operation_id: null, task_id: null, node: null };

/** The detectors as a pure function: the state given is left as it was. */
export function detect(state: DetectorState, input: DetectorInput, ctx: DetectContext): { state: DetectorState; emits: Emit[] } {
  const s: DetectorState = structuredClone(state);
  return { state: s, emits: detectInPlace(s, input, ctx) };
}

/**
 * The same, changing `s` in place: what the consumer runs, since copying
 * every connection's window for every event would cost more than the
 * detection. The consumer owns its state and reloads it from its checkpoint
 * when a write fails, so nothing half-applied survives.
 */
export function detectInPlace(s: DetectorState, input: DetectorInput, ctx: DetectContext): Emit[] {
  const at = input.type === 'tick' ? input.at : input.recordedAt;
  s.now = Math.max(s.now, at);
  s.viewers ??= {};
  const cause = input.type === 'tick' ? null : input.position;
  const emits: Emit[] = [];
  const touched = input.type === 'tick' ? allSubjects(s) : fold(s, input, ctx.rules);
  for (const subjectKey of touched) evaluate(s, subjectKey, ctx, cause, emits);
  // Tidying walks every subject: only when something can have ended or been added.
  if (input.type === 'tick' || input.type === 'connection.closed' || input.type === 'connection.created' || input.type === 'client.closed' || emits.length > 0) forget(s, ctx.rules);
  return emits;
}

// ---- layer 1: what is known of each subject ----------------------------------

/** Folds one event in; returns the subjects whose conditions may have changed. */
function fold(s: DetectorState, e: StoredEvent, rules: Rules): string[] {
  const target = parseStream(e.stream);
  if (!target) return [];
  const at = e.recordedAt;
  if (target.kind === 'connection') {
    const key = `connection:${target.id}`;
    let c = s.conns[target.id];
    if (!c) {
      if (e.type !== 'connection.created') return [];
      c = s.conns[target.id] = { createdAt: at, connectedAt: null, setupMs: null, failedAt: null, closed: false, stalled: false, samples: [], baseline: null };
    }
    switch (e.type) {
      case 'connection.state_changed':
        if (e.data.kind === 'connection' && e.data.to === 'connected' && c.connectedAt === null) {
          c.connectedAt = at;
          c.setupMs = at - c.createdAt;
        }
        if (e.data.kind === 'connection' && e.data.to === 'failed' && c.failedAt === null && !c.closed) c.failedAt = at;
        break;
      case 'connection.error':
        if (e.data.fatal && c.failedAt === null && !c.closed) c.failedAt = at;
        break;
      case 'connection.stalled':
        if (!c.closed) c.stalled = true;
        break;
      case 'connection.resumed':
        c.stalled = false;
        break;
      case 'connection.closed':
        if (!c.closed) {
          if (e.data.initiator === 'ice' && c.failedAt === null) c.failedAt = at;
          c.closed = true;
          c.stalled = false;
        }
        break;
      case 'connection.stats_sampled': {
        const d = e.data;
        const sample: Sample = {
          at,
          rtt: d.rtt_ms,
          jitter: d.jitter_ms,
          loss: d.fraction_lost === null || d.fraction_lost === undefined ? null : d.fraction_lost * 100,
          bps: d.bitrate_out_bps,
        };
        const keepFrom = at - Math.max(rules.high_rtt.window_ms, rules.high_jitter.window_ms, rules.high_loss.window_ms, rules.bitrate_collapse.window_ms);
        c.samples = [...c.samples.filter((x) => x.at >= keepFrom), sample].slice(-MAX_SAMPLES);
        const bps = sample.bps;
        if (bps !== null && (c.baseline === null || bps >= rules.bitrate_collapse.ratio * c.baseline)) {
          // The recent level moves only while the bitrate is not collapsed, so a collapse cannot become the new normal.
          c.baseline = c.baseline === null ? bps : round(0.8 * c.baseline + 0.2 * bps, 0);
        }
        break;
      }
      default:
        break;
    }
    return [key];
  }
  if (target.kind === 'operation') {
    const key = `operation:${target.id}`;
    if (e.type === 'operation.started') {
      const timeout = e.data.timeout_ms ?? null;
      s.ops[target.id] = { startedAt: at, deadlineAt: timeout === null ? null : at + timeout, type: e.data.type, connection_id: e.data.connection_id ?? null };
    } else if (e.type === 'operation.completed' || e.type === 'operation.failed' || e.type === 'operation.cancelled') {
      delete s.ops[target.id];
    } else return [];
    return [key];
  }
  if (target.kind === 'task') {
    const key = `task:${target.id}`;
    if ((e.type === 'task.failed' || e.type === 'task.cancelled' || e.type === 'task.timed_out') && e.data.abandoned) {
      s.tasks[target.id] = { name: '', operation_id: e.meta.operation_id ?? null, connection_id: null, since: at };
    } else if (e.type === 'task.settled_late') {
      delete s.tasks[target.id];
    } else return [];
    return [key];
  }
  if (target.kind === 'client') return foldViewer(s, target.id, e, rules);
  if (target.kind === 'forwarder') {
    const node = (e.data as { node?: string }).node ?? target.id;
    const f = (s.forwarders[node] ??= { behind: false, failing: false, lag_ms: null });
    switch (e.type) {
      case 'forwarder.behind':
        f.behind = true;
        f.lag_ms = e.data.lag_ms;
        break;
      case 'forwarder.failing':
        f.failing = true;
        break;
      case 'forwarder.caught_up':
        f.behind = false;
        f.failing = false;
        f.lag_ms = 0;
        break;
      case 'forwarder.connected':
        f.failing = false;
        break;
      default:
        return [];
    }
    return [`node:${node}`];
  }
  return [];
}

/** Folds a viewer's report; returns the connection it is joined to, if any. */
function foldViewer(s: DetectorState, id: string, e: StoredEvent, rules: Rules): string[] {
  const viewers = (s.viewers ??= {});
  let v = viewers[id];
  if (!v) {
    if (e.type !== 'client.correlated' && e.type !== 'client.stats_sampled') return [];
    v = viewers[id] = { connection_id: null, closed: false, lastAt: e.recordedAt, samples: [], still: {} };
  }
  switch (e.type) {
    case 'client.correlated':
      v.connection_id ??= e.data.connection_id;
      break;
    case 'client.closed':
      v.closed = true;
      break;
    case 'client.stats_sampled': {
      if (v.closed) return [];
      const at = e.recordedAt;
      const ts = e.data.client_ts;
      const video: Record<string, ViewerVideo> = {};
      for (const t of e.data.inbound) {
        if (t.kind !== 'video' || t.frames_decoded === null || Object.keys(video).length >= MAX_VIEWER_TRACKS) continue;
        const key = String(t.ssrc);
        video[key] = { decoded: t.frames_decoded, freezeMs: t.total_freezes_duration_ms };
        const still = v.still[key];
        if (!still || still.decoded !== t.frames_decoded) v.still[key] = { decoded: t.frames_decoded, at, ts };
      }
      for (const key of Object.keys(v.still)) if (!(key in video)) delete v.still[key];
      const keepFrom = at - Math.max(rules.viewer_freeze.window_ms, rules.viewer_low_fps.window_ms);
      v.samples = [...v.samples.filter((x) => x.at >= keepFrom), { at, ts, video }].slice(-MAX_SAMPLES);
      v.lastAt = at;
      break;
    }
    default:
      return [];
  }
  return v.connection_id === null ? [] : [`connection:${v.connection_id}`];
}

/** The time between two viewer samples: by the viewer's clock when both have it (reports can arrive in bursts), else by the log's. */
const span = (from: { at: number; ts: number | null }, to: { at: number; ts: number | null }) =>
  from.ts !== null && to.ts !== null ? to.ts - from.ts : to.at - from.at;

/** The viewers still reporting about a connection (joined to it and not closed). */
const liveViewers = (s: DetectorState, connectionId: string) =>
  Object.entries(s.viewers ?? {}).filter(([, v]) => v.connection_id === connectionId && !v.closed);

/**
 * viewer_freeze: the longest a video track's decoded-frame count has stood
 * still up to the latest report, or the freeze time the viewer's own stack
 * counted over the window (totalFreezesDuration), whichever is more.
 * viewer_low_fps: the lowest decode rate of a video track over the window,
 * among tracks that decoded at all in it (one that decoded nothing is frozen,
 * the other detector's business). A viewer whose latest report is older than
 * the window decides nothing.
 */
function viewerConditions(s: DetectorState, connectionId: string, rules: Rules): Condition[] {
  const now = s.now;
  const out: Condition[] = [];
  const viewers = liveViewers(s, connectionId);
  if (viewers.length === 0) return out;
  const fr = rules.viewer_freeze;
  if (fr.enabled) {
    let worst: { ms: number; who: string } | null = null;
    for (const [who, v] of viewers) {
      const last = v.samples[v.samples.length - 1];
      if (!last || now - last.at > fr.window_ms) continue;
      const first = v.samples.find((x) => x.at > now - fr.window_ms) ?? last;
      for (const [key, track] of Object.entries(last.video)) {
        const still = v.still[key];
        // A track that has not decoded its first frame has not frozen: it has not started.
        const stood = still && track.decoded > 0 ? Math.max(0, span(still, last)) : 0;
        const before = first.video[key]?.freezeMs ?? null;
        const counted = track.freezeMs !== null && before !== null ? Math.max(0, track.freezeMs - before) : 0;
        const ms = Math.max(stood, counted);
        if (!worst || ms > worst.ms) worst = { ms, who };
      }
    }
    if (worst) {
      out.push({
        type: 'viewer_freeze',
        active: worst.ms >= fr.threshold_ms,
        value: round(worst.ms, 0),
        threshold: fr.threshold_ms,
        message: `the viewer's video froze for ${round(worst.ms, 0)} ms within ${fr.window_ms} ms (client ${worst.who})`,
      });
    }
  }
  const lf = rules.viewer_low_fps;
  if (lf.enabled) {
    let worst: { fps: number; who: string } | null = null;
    for (const [who, v] of viewers) {
      const inWindow = v.samples.filter((x) => x.at > now - lf.window_ms);
      if (inWindow.length < lf.min_samples) continue;
      const first = inWindow[0];
      const last = inWindow[inWindow.length - 1];
      const ms = span(first, last);
      if (ms <= 0) continue;
      for (const [key, track] of Object.entries(last.video)) {
        const from = first.video[key];
        if (!from || track.decoded <= from.decoded) continue;
        const fps = ((track.decoded - from.decoded) * 1000) / ms;
        if (!worst || fps < worst.fps) worst = { fps, who };
      }
    }
    if (worst) {
      out.push({
        type: 'viewer_low_fps',
        active: worst.fps < lf.threshold,
        value: round(worst.fps, 1),
        threshold: lf.threshold,
        message: `the viewer decodes ${round(worst.fps, 1)} frames/s over ${lf.window_ms} ms (threshold ${lf.threshold}, client ${worst.who})`,
      });
    }
  }
  return out;
}

function allSubjects(s: DetectorState): string[] {
  const keys = new Set<string>();
  for (const id of Object.keys(s.conns)) keys.add(`connection:${id}`);
  for (const id of Object.keys(s.ops)) keys.add(`operation:${id}`);
  for (const id of Object.keys(s.tasks)) keys.add(`task:${id}`);
  for (const node of Object.keys(s.forwarders)) keys.add(`node:${node}`);
  for (const v of Object.values(s.viewers ?? {})) if (v.connection_id !== null) keys.add(`connection:${v.connection_id}`);
  for (const issue of Object.values(s.issues)) keys.add(issue.subjectKey);
  return [...keys];
}

function subjectOf(subjectKey: string, s: DetectorState): Subject {
  const at = subjectKey.indexOf(':');
  const kind = subjectKey.slice(0, at);
  const id = subjectKey.slice(at + 1);
  if (kind === 'connection') return { ...noSubject, connection_id: id };
  if (kind === 'operation') return { ...noSubject, operation_id: id, connection_id: s.ops[id]?.connection_id ?? null };
  if (kind === 'task') return { ...noSubject, task_id: id, operation_id: s.tasks[id]?.operation_id ?? null };
  return { ...noSubject, node: id };
}

/** The mean of a sample field over the window ending now, when there are enough samples. */
function windowMean(c: ConnTrack, field: 'rtt' | 'jitter' | 'loss', windowMs: number, minSamples: number, now: number): number | null {
  const values = c.samples.filter((x) => x.at > now - windowMs && x[field] !== null).map((x) => x[field] as number);
  if (values.length < minSamples) return null;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function conditions(s: DetectorState, subjectKey: string, rules: Rules): Condition[] {
  const now = s.now;
  const at = subjectKey.indexOf(':');
  const kind = subjectKey.slice(0, at);
  const id = subjectKey.slice(at + 1);
  const out: Condition[] = [];
  if (kind === 'connection') {
    const c = s.conns[id];
    // The viewer's reports count only while the connection is open (or was never seen: detectors started after it).
    if (!c?.closed) out.push(...viewerConditions(s, id, rules));
    if (!c) return out;
    if (rules.connection_failed.enabled && c.failedAt !== null && c.failedAt === now) {
      out.push({ type: 'connection_failed', active: true, pulse: true, value: null, threshold: null, message: 'the connection failed (ICE or DTLS)' });
    }
    if (c.closed) return out;
    const r = rules.slow_setup;
    if (r.enabled) {
      const waiting = c.connectedAt === null ? now - c.createdAt : null;
      if (waiting !== null) {
        out.push({ type: 'slow_setup', active: waiting > r.threshold_ms, value: waiting, threshold: r.threshold_ms, message: `not connected after ${waiting} ms` });
      } else if (c.connectedAt === now && c.setupMs !== null && c.setupMs > r.threshold_ms) {
        out.push({ type: 'slow_setup', active: true, pulse: true, value: c.setupMs, threshold: r.threshold_ms, message: `set-up took ${c.setupMs} ms` });
      } else out.push({ type: 'slow_setup', active: false, value: c.setupMs, threshold: r.threshold_ms, message: '' });
    }
    if (rules.stalled.enabled) out.push({ type: 'stalled', active: c.stalled, value: null, threshold: null, message: 'nothing arrives from the viewer' });
    const windowed = [
      ['high_rtt', 'rtt', 'ms', 'RTT'],
      ['high_jitter', 'jitter', 'ms', 'jitter'],
      ['high_loss', 'loss', '%', 'loss'],
    ] as const;
    for (const [type, field, unit, label] of windowed) {
      const rule = rules[type];
      if (!rule.enabled) continue;
      const mean = windowMean(c, field, rule.window_ms, rule.min_samples, now);
      out.push({
        type,
        active: mean !== null && mean > rule.threshold,
        value: mean === null ? null : round(mean, 2),
        threshold: rule.threshold,
        message: mean === null ? '' : `${label} ${round(mean)} ${unit} over ${rule.window_ms} ms (threshold ${rule.threshold} ${unit})`,
      });
    }
    const b = rules.bitrate_collapse;
    if (b.enabled) {
      const recent = c.samples.filter((x) => x.bps !== null).slice(-b.min_samples);
      const base = c.baseline;
      const collapsed =
        base !== null && base >= b.min_baseline_bps && recent.length >= b.min_samples && recent.every((x) => (x.bps as number) < b.ratio * base);
      const latest = recent.length ? (recent[recent.length - 1].bps as number) : null;
      out.push({
        type: 'bitrate_collapse',
        active: collapsed,
        value: latest,
        threshold: base === null ? null : round(b.ratio * base, 0),
        message: collapsed ? `outbound ${latest} bps, below ${b.ratio} x its recent ${base} bps` : '',
      });
    }
    return out;
  }
  if (kind === 'operation') {
    const op = s.ops[id];
    const r = rules.operation_overdue;
    if (!op || !r.enabled || op.deadlineAt === null) return out;
    const over = now - op.deadlineAt;
    out.push({ type: 'operation_overdue', active: over > r.grace_ms, value: now - op.startedAt, threshold: op.deadlineAt - op.startedAt, message: `operation ${op.type} running ${now - op.startedAt} ms, past its ${op.deadlineAt - op.startedAt} ms deadline` });
    return out;
  }
  if (kind === 'task') {
    const t = s.tasks[id];
    if (!t || !rules.task_abandoned.enabled) return out;
    out.push({ type: 'task_abandoned', active: true, value: now - t.since, threshold: null, message: 'a task given up on still runs' });
    return out;
  }
  const f = s.forwarders[id];
  if (!f || !rules.forwarder_behind.enabled) return out;
  out.push({
    type: 'forwarder_behind',
    active: f.behind || f.failing,
    value: f.lag_ms,
    threshold: null,
    message: f.failing ? 'the forwarder cannot reach the centre' : `the forwarder is behind (${f.lag_ms ?? '?'} ms)`,
  });
  return out;
}

// ---- layer 2: hysteresis -----------------------------------------------------

const issueKey = (type: IssueType, subjectKey: string) => `${type}|${subjectKey}`;

function evaluate(s: DetectorState, subjectKey: string, ctx: DetectContext, cause: number | null, emits: Emit[]) {
  const { rules } = ctx;
  const now = s.now;
  const seen = new Set<string>();
  for (const c of conditions(s, subjectKey, rules)) {
    const key = issueKey(c.type, subjectKey);
    seen.add(key);
    const open = s.issues[key];
    if (c.active) {
      if (!open) {
        const id = ctx.newId();
        const subject = subjectOf(subjectKey, s);
        const severity = rules[c.type].severity;
        s.issues[key] = { id, type: c.type, subject, subjectKey, severity, raisedAt: now, lastUpdateAt: now, value: c.value, reported: c.value, worst: c.value, clearSince: c.pulse ? now : null };
        emits.push({
          stream: `issue:${id}`,
          event: { type: 'issue.raised', data: { issue_id: id, type: c.type, severity, subject: subjectKey, ...subject, message: c.message, value: c.value, threshold: c.threshold, cause_position: cause } },
        });
        continue;
      }
      open.value = c.value;
      open.worst = LOWER_IS_WORSE.has(open.type) ? lower(open.worst, c.value) : worse(open.worst, c.value);
      open.clearSince = c.pulse ? (open.clearSince ?? now) : null;
      if (now - open.lastUpdateAt >= rules.update_interval_ms && moved(open.reported, c.value)) {
        open.lastUpdateAt = now;
        open.reported = c.value;
        emits.push({
          stream: `issue:${open.id}`,
          event: { type: 'issue.updated', data: { issue_id: open.id, type: open.type, severity: open.severity, subject: open.subjectKey, message: c.message, value: c.value, worst: open.worst, cause_position: cause } },
        });
      }
    } else if (open && open.clearSince === null) {
      open.clearSince = now;
    }
  }
  const isConnection = subjectKey.startsWith('connection:');
  const subjectEnded = isConnection && (s.conns[subjectKey.slice(11)]?.closed ?? true);
  const viewersEnded = isConnection && ((s.conns[subjectKey.slice(11)]?.closed ?? false) || liveViewers(s, subjectKey.slice(11)).length === 0);
  for (const [key, open] of Object.entries(s.issues)) {
    if (open.subjectKey !== subjectKey) continue;
    if (!seen.has(key) && open.clearSince === null) {
      if ((subjectEnded && ENDS_WITH_CONNECTION.has(open.type)) || (viewersEnded && FROM_VIEWER.has(open.type))) {
        resolve(s, key, 'subject_ended', cause, emits);
        continue;
      }
      open.clearSince = now;
    }
    if (open.clearSince !== null && now - open.clearSince >= rules[open.type].hold_ms) resolve(s, key, 'cleared', cause, emits);
  }
}

function resolve(s: DetectorState, key: string, resolution: 'cleared' | 'subject_ended', cause: number | null, emits: Emit[]) {
  const open = s.issues[key];
  delete s.issues[key];
  emits.push({
    stream: `issue:${open.id}`,
    event: {
      type: 'issue.resolved',
      data: { issue_id: open.id, type: open.type, severity: open.severity, subject: open.subjectKey, resolution, duration_ms: Math.max(0, s.now - open.raisedAt), clear_for_ms: open.clearSince === null ? 0 : Math.max(0, s.now - open.clearSince), worst: open.worst, cause_position: cause },
    },
  });
}

const worse = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const lower = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
/** Worth an update: a value that appeared, vanished, or moved by a tenth or more. */
const moved = (before: number | null, after: number | null) =>
  before === null || after === null ? before !== after : Math.abs(after - before) >= Math.max(Math.abs(before) * 0.1, 1e-9);

/** Keeps the state bounded: ended subjects with no open issue go, and at most max_tracked connections stay. */
function forget(s: DetectorState, rules: Rules) {
  const withIssues = new Set(Object.values(s.issues).map((i) => i.subjectKey));
  // Viewer report streams first (their connection's close is still known): closed
  // ones, those of a closed connection, and those silent for longer than any window
  // (a report socket that vanished without its close) go; then at most
  // max_tracked stay, the longest silent going first.
  const viewers = s.viewers ?? {};
  const silentFor = 2 * Math.max(rules.viewer_freeze.window_ms, rules.viewer_low_fps.window_ms);
  for (const [id, v] of Object.entries(viewers)) {
    if (v.closed || s.now - v.lastAt > silentFor || (v.connection_id !== null && s.conns[v.connection_id]?.closed)) delete viewers[id];
  }
  const viewerIds = Object.keys(viewers);
  if (viewerIds.length > rules.max_tracked) {
    viewerIds.sort((a, b) => viewers[a].lastAt - viewers[b].lastAt);
    for (const id of viewerIds.slice(0, viewerIds.length - rules.max_tracked)) delete viewers[id];
  }
  for (const [id, c] of Object.entries(s.conns)) if (c.closed && !withIssues.has(`connection:${id}`)) delete s.conns[id];
  for (const [node, f] of Object.entries(s.forwarders)) if (!f.behind && !f.failing && !withIssues.has(`node:${node}`)) delete s.forwarders[node];
  const ids = Object.keys(s.conns);
  if (ids.length > rules.max_tracked) {
    // Oldest first (by creation); those with open issues are kept.
    ids.sort((a, b) => s.conns[a].createdAt - s.conns[b].createdAt);
    for (const id of ids.slice(0, ids.length - rules.max_tracked)) if (!withIssues.has(`connection:${id}`)) delete s.conns[id];
  }
}
