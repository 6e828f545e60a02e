// The issues the detectors raised: a banner while any is open, and a list of
// the open ones (newest first). Kept apart from app.js, which only calls
// renderIssues with GET issues' answer. Built with dom.js, so no text from
// the server is ever parsed as HTML.
import { byId, fill, h } from './dom.js';
import { localTime } from './format.js';

const SEVERITIES = ['critical', 'warning', 'info'];

export function renderIssues(page) {
  const open = page.issues;
  const banner = byId('issues-banner');
  banner.hidden = open.length === 0;
  const worst = SEVERITIES.find((s) => open.some((i) => i.severity === s)) ?? 'info';
  banner.className = `issues-banner issues-${worst}`;
  fill(banner, `${open.length} open issue${open.length === 1 ? '' : 's'}${page.next_cursor ? '+' : ''}: `, [...new Set(open.map((i) => i.type))].join(', '));
  fill(
    byId('issues').tBodies[0],
    open.map((i) =>
      h(
        'tr',
        { dataset: { id: i.id, type: i.type, severity: i.severity } },
        h('td', {}, h('span', { class: `badge issues-${i.severity}` }, i.severity)),
        h('td', {}, i.type),
        h('td', { class: 'opt' }, about(i)),
        // The message wraps: a long one must not widen the table past the page.
        h('td', { class: 'wrap' }, i.message),
        h('td', { class: 'opt' }, h('time', { datetime: i.raised_at, title: `${i.raised_at} (UTC)` }, localTime(i.raised_at))),
      ),
    ),
  );
  byId('issues-empty').hidden = open.length > 0;
}

/** What an issue is about, shortened with an ellipsis (the whole id in its title). */
function about(i) {
  const id = i.connection_id ?? i.operation_id ?? i.task_id ?? i.node;
  return id ? h('span', { class: 'id', title: id }, id) : '—';
}

/** The connection list's quality column: the latest score, red below 50, amber below 80. */
export function scoreCell(c) {
  const score = c.category === 'closed' ? null : (c.quality_score ?? null);
  if (score === null) return '—';
  const reasons = c.latest_stats?.score?.reasons ?? [];
  const level = score < 50 ? 'critical' : score < 80 ? 'warning' : 'ok';
  return h('span', { class: `score score-${level}`, title: reasons.join('\n') || 'no impairment measured' }, String(Math.round(score)));
}
