// A small line chart as inline SVG: a few series over time, the y range
// labelled, and event markers (state changes, quality changes, stalls,
// errors, issues) as vertical lines at the time they were recorded. No
// library: the dashboard draws five of these and nothing else.
import { svg, h, fill } from './dom.js';
import { localTime } from './format.js';

const W = 520;
const H = 130;
const PAD = { left: 48, right: 8, top: 8, bottom: 20 };
/** Marker glyphs nearer than this (in chart units) go to the next lane down; at most this many lanes. */
const GLYPH_GAP = 9;
const MAX_LANES = 8;

/**
 * series: [{ name, className, points: [{ t: epochMs, v: number|null }] }]
 * markers: [{ t: epochMs, kind, label }] (kind: state | quality | stall | error | issue | resolved)
 * range: { t0, t1 }, the time axis (charts drawn side by side share one, so
 * their markers line up); by default the samples' span.
 * floor: the least top of the y axis (all zeros still get a scale).
 * Gaps (null values) break the line; markers outside the time axis are left out.
 */
export function lineChart(container, series, { format = (v) => String(Math.round(v)), markers = [], range = null, floor = 1 } = {}) {
  const all = series.flatMap((s) => s.points).filter((p) => p.v !== null && Number.isFinite(p.v));
  if (all.length === 0) {
    fill(container, h('p', { class: 'muted' }, 'No samples yet.'));
    return;
  }
  const t0 = range?.t0 ?? Math.min(...all.map((p) => p.t));
  const t1 = range?.t1 ?? Math.max(...all.map((p) => p.t));
  const vMax = Math.max(...all.map((p) => p.v), floor) * 1.1;
  const x = (t) => PAD.left + (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right));
  const y = (v) => H - PAD.bottom - (v / vMax) * (H - PAD.top - PAD.bottom);

  const lines = series.map((s) => {
    const segments = [];
    let current = [];
    for (const p of s.points) {
      if (p.v === null || !Number.isFinite(p.v)) {
        if (current.length) segments.push(current);
        current = [];
      } else current.push([x(p.t), y(p.v)]);
    }
    if (current.length) segments.push(current);
    return segments.map((points) =>
      points.length === 1
        ? svg('circle', { cx: points[0][0].toFixed(1), cy: points[0][1].toFixed(1), r: 2, class: `series ${s.className}` })
        : svg('polyline', { points: points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' '), class: `series ${s.className}`, fill: 'none' }),
    );
  });

  const shown = markers.filter((m) => m.t >= t0 && m.t <= t1).sort((a, b) => a.t - b.t);
  // Markers closer than a glyph's width stack their glyphs downwards
  // (a failure brings an error, state changes and an issue in one millisecond).
  const lastX = [];
  const marks = shown.map((m) => {
    const at = x(m.t);
    let lane = lastX.findIndex((lx) => at - lx >= GLYPH_GAP);
    if (lane < 0) lane = Math.min(lastX.length, MAX_LANES - 1);
    lastX[lane] = at;
    const mx = at.toFixed(1);
    return svg(
      'g',
      { class: `marker m-${m.kind}`, 'data-kind': m.kind },
      svg('title', {}, `${localTime(new Date(m.t).toISOString())} ${m.label}`),
      svg('line', { x1: mx, y1: PAD.top, x2: mx, y2: H - PAD.bottom }),
      svg('text', { x: mx, y: PAD.top + 8 + lane * 10, 'text-anchor': 'middle', class: 'marker-glyph' }, MARKER_GLYPHS[m.kind] ?? '•'),
    );
  });

  const chart = svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${series.map((s) => s.name).join(', ')}${shown.length ? `, ${shown.length} events marked` : ''}` },
    svg('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis' }),
    svg('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: 'axis' }),
    svg('text', { x: PAD.left - 4, y: PAD.top + 10, 'text-anchor': 'end', class: 'tick' }, format(vMax)),
    svg('text', { x: PAD.left - 4, y: H - PAD.bottom, 'text-anchor': 'end', class: 'tick' }, '0'),
    svg('text', { x: PAD.left, y: H - 4, class: 'tick' }, localTime(new Date(t0).toISOString()).slice(11)),
    svg('text', { x: W - PAD.right, y: H - 4, 'text-anchor': 'end', class: 'tick' }, localTime(new Date(t1).toISOString()).slice(11)),
    marks,
    lines,
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    series.map((s) => h('li', {}, h('span', { class: `swatch ${s.className}` }), s.name)),
  );
  fill(container, chart, legend);
}

/** A letter on each marker, so its kind reads without its colour. */
export const MARKER_GLYPHS = { state: 'S', quality: 'Q', stall: '!', resumed: 'R', error: 'E', issue: 'I', resolved: '✓' };
