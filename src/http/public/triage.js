// What the dashboard triages by, as pure functions of the read models and
// events (no DOM, so Node tests them too: test/http/public/triage.test.ts):
// a connection's health, the list's sorts, a timeline event's description
// and severity, the charts' event markers and the frame rate between samples.
import { bytes, duration } from './format.js';

/**
 * One word per connection, most urgent first: failed (whatever its state
 * now), stalled, disconnected, connecting, healthy, ended. Each has a colour
 * and a glyph, and the word itself is always shown, so none is told by
 * colour alone.
 */
export const HEALTH = {
  failed: { rank: 0, glyph: '✖', label: 'failed' },
  stalled: { rank: 1, glyph: '⚠', label: 'stalled' },
  disconnected: { rank: 2, glyph: '⚠', label: 'disconnected' },
  connecting: { rank: 3, glyph: '…', label: 'connecting' },
  healthy: { rank: 4, glyph: '✔', label: 'healthy' },
  ended: { rank: 5, glyph: '■', label: 'ended' },
};

export function healthOf(c) {
  if (c.outcome === 'failed' || c.category === 'failed') return 'failed';
  if (c.stalled) return 'stalled';
  if (c.category === 'disconnected') return 'disconnected';
  if (c.category === 'new' || c.category === 'connecting') return 'connecting';
  if (c.category === 'connected') return 'healthy';
  return 'ended';
}

/** An ended connection's last sample is history, not a current figure: unknown. */
const statOf = (c, key) => (c.category === 'closed' ? null : (c.latest_stats?.[key] ?? null));
const scoreOf = (c) => (c.category === 'closed' ? null : (c.quality_score ?? null));

/** The connection list's orders; ties (and `problems` within a health) newest first. */
export const SORTS = {
  problems: (a, b) => HEALTH[healthOf(a)].rank - HEALTH[healthOf(b)].rank || b.created_position - a.created_position,
  newest: (a, b) => b.created_position - a.created_position,
  oldest: (a, b) => a.created_position - b.created_position,
  // Worst first; unknown scores last.
  score: (a, b) => (scoreOf(a) ?? 101) - (scoreOf(b) ?? 101) || b.created_position - a.created_position,
  bitrate: (a, b) => (statOf(b, 'bitrate_out_bps') ?? -1) - (statOf(a, 'bitrate_out_bps') ?? -1) || b.created_position - a.created_position,
  rtt: (a, b) => (statOf(b, 'rtt_ms') ?? -1) - (statOf(a, 'rtt_ms') ?? -1) || b.created_position - a.created_position,
  loss: (a, b) => (statOf(b, 'fraction_lost') ?? -1) - (statOf(a, 'fraction_lost') ?? -1) || b.created_position - a.created_position,
};

/** One line of the timeline. */
export function describe(event) {
  const d = event.data;
  switch (event.type) {
    case 'connection.created':
      return `created (${[d.mode, d.content, d.quality].filter(Boolean).join(', ') || d.role})`;
    case 'connection.state_changed':
      return `${d.kind}: ${d.from} → ${d.to}`;
    case 'connection.candidate_pair_selected':
      return `candidate pair ${d.local} ⇄ ${d.remote}`;
    case 'connection.track_added':
      return `track added: ${d.kind}${d.codec ? ` (${d.codec})` : ''}`;
    case 'connection.track_removed':
      return `track removed: ${d.kind ?? d.track_id}`;
    case 'connection.datachannel_opened':
      return `data channel "${d.label}" opened`;
    case 'connection.datachannel_closed':
      return `data channel "${d.label}" closed${d.bytes_sent !== undefined ? ` after ${bytes(d.bytes_sent)}` : ''}`;
    case 'connection.quality_changed':
      return `quality ${d.from} → ${d.to}`;
    case 'connection.error':
      return `error ${d.code}: ${d.message}${d.fatal ? ' (fatal)' : ''}`;
    case 'connection.closed':
      return `closed by ${d.initiator}: ${d.reason}`;
    case 'connection.stalled':
      return `stalled: nothing received for ${duration(d.silent_ms)}`;
    case 'connection.resumed':
      return `resumed after ${duration(d.stalled_ms)} (${(d.via ?? []).join(', ')})`;
    case 'issue.raised':
      return `issue raised (${d.severity}) ${d.type}: ${d.message}`;
    case 'issue.updated':
      return `issue updated (${d.severity}) ${d.type}: ${d.message}`;
    case 'issue.resolved':
      return `issue resolved (${d.resolution}) ${d.type} after ${duration(d.duration_ms)}`;
    default:
      return event.type;
  }
}

/** What deserves the eye in a timeline: `bad` (failures, critical issues), `warn` (stalls, warnings), or ''. */
export function severity(e) {
  const d = e.data;
  if (e.type === 'connection.error' || (e.type === 'connection.state_changed' && d.to === 'failed')) return 'bad';
  if (e.type === 'connection.closed' && (d.initiator === 'ice' || /fail|expired/.test(d.reason))) return 'bad';
  if (e.type === 'issue.raised' || e.type === 'issue.updated') return d.severity === 'critical' ? 'bad' : 'warn';
  if (e.type === 'connection.stalled' || (e.type === 'connection.state_changed' && d.to === 'disconnected')) return 'warn';
  return '';
}

/** Event markers for the charts: what changed, when (kinds as chart.js draws them). */
export function markers(events) {
  const out = [];
  for (const e of events) {
    const t = Date.parse(e.recorded_at);
    const d = e.data;
    if (e.type === 'connection.state_changed' && d.kind === 'connection') out.push({ t, kind: d.to === 'failed' ? 'error' : 'state', label: `connection ${d.from} → ${d.to}` });
    else if (e.type === 'connection.quality_changed') out.push({ t, kind: 'quality', label: `quality ${d.from} → ${d.to}` });
    else if (e.type === 'connection.stalled') out.push({ t, kind: 'stall', label: describe(e) });
    else if (e.type === 'connection.resumed') out.push({ t, kind: 'resumed', label: describe(e) });
    else if (e.type === 'connection.error') out.push({ t, kind: 'error', label: describe(e) });
    else if (e.type === 'issue.raised') out.push({ t, kind: 'issue', label: describe(e) });
    else if (e.type === 'issue.resolved') out.push({ t, kind: 'resolved', label: describe(e) });
  }
  return out;
}

/**
 * Frames sent per second at sample `i` of `samples` (stats events, oldest
 * first), over the window since the sample at least `windowMs` before it (or
 * the first): between two samples a quarter-second apart a 5 frames/s clip
 * sends 1 or 2 frames, which would draw a saw. Unknown (null) without both
 * counts or the time between them.
 */
export function framesPerSecond(samples, i, windowMs = 1000) {
  const now = samples[i];
  if (now?.data.frames_sent == null || i === 0) return null;
  const t = Date.parse(now.recorded_at);
  let j = i - 1;
  while (j > 0 && t - Date.parse(samples[j].recorded_at) < windowMs) j--;
  const then = samples[j];
  const seconds = (t - Date.parse(then.recorded_at)) / 1000;
  if (then.data.frames_sent == null || !(seconds > 0)) return null;
  return Math.max(0, now.data.frames_sent - then.data.frames_sent) / seconds;
}
