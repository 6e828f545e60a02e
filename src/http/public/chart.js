// A small line chart as inline SVG: a few series over time, with the y range
// labelled. No library: the dashboard has two of these and nothing else.
import { h, svg, fill } from './dom.js';
import { localTime } from './format.js';

const W = 520;
const H = 140;
const PAD = { left: 48, right: 8, top: 8, bottom: 20 };

/**
 * series: [{ name, className, points: [{ t: epochMs, v: number|null }] }]
 * Gaps (null values) break the line.
 */
export function lineChart(container, series, { format = (v) => String(Math.round(v)) } = {}) {
  const all = series.flatMap((s) => s.points).filter((p) => p.v !== null && Number.isFinite(p.v));
  if (all.length === 0) {
    fill(container, h('p', { class: 'muted' }, 'No samples yet.'));
    return;
  }
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t));
  const vMax = Math.max(...all.map((p) => p.v), 1) * 1.1;
  const x = (t) => PAD.left + (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right));
  const y = (v) => H - PAD.bottom - (v / vMax) * (H - PAD.top - PAD.bottom);

  const lines = series.map((s) => {
    const segments = [];
    let current = [];
    for (const p of s.points) {
      if (p.v === null || !Number.isFinite(p.v)) {
        if (current.length) segments.push(current);
        current = [];
      } else current.push(`${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    }
    if (current.length) segments.push(current);
    return segments.map((points) =>
      points.length === 1
        ? svg('circle', { cx: points[0].split(',')[0], cy: points[0].split(',')[1], r: 2, class: `series ${s.className}` })
        : svg('polyline', { points: points.join(' '), class: `series ${s.className}`, fill: 'none' }),
    );
  });

  const chart = svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': series.map((s) => s.name).join(', ') },
    svg('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis' }),
    svg('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: 'axis' }),
    svg('text', { x: PAD.left - 4, y: PAD.top + 10, 'text-anchor': 'end', class: 'tick' }, format(vMax)),
    svg('text', { x: PAD.left - 4, y: H - PAD.bottom, 'text-anchor': 'end', class: 'tick' }, '0'),
    svg('text', { x: PAD.left, y: H - 4, class: 'tick' }, localTime(new Date(t0).toISOString()).slice(11)),
    svg('text', { x: W - PAD.right, y: H - 4, 'text-anchor': 'end', class: 'tick' }, localTime(new Date(t1).toISOString()).slice(11)),
    lines,
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    series.map((s) => h('li', {}, h('span', { class: `swatch ${s.className}` }), s.name)),
  );
  fill(container, chart, legend);
}
