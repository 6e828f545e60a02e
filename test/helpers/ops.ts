// The operations files (ops/): where they are, and the metric names their
// queries use, for the tests that hold them to a live /metrics.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const ALERTS_FILE = resolve(import.meta.dirname, '../../ops/prometheus/alerts.yml');
export const GRAFANA_FILE = resolve(import.meta.dirname, '../../ops/grafana/webrtc-monitor.json');

/** Every query (expr) of the Grafana dashboard's panels, with its panel title. */
export function grafanaQueries(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(GRAFANA_FILE, 'utf8')) as { panels: { title: string; targets?: { expr?: string }[] }[] };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));
}

/** The webrtc_* metric families a PromQL expression names (a histogram's _bucket/_sum/_count is its family). */
export function metricsNamed(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\bwebrtc_[a-z0-9_]+/g)].map((m) => m[0]))];
}

/**
 * The names an exposition declares: every family (`# TYPE`, samples or not:
 * a labelled family with no series yet is still there), its histogram
 * series (`_bucket`, `_sum`, `_count`), and every sample name.
 */
export function exposedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      names.add(type[1]);
      if (type[2] === 'histogram' || type[2] === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(type[1] + suffix);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    names.add(line.split(/[{ ]/)[0]);
  }
  return names;
}
