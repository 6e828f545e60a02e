// Figures and how they are printed. Every figure is measured beside an anchor
// in the same run, so the ratio is the number to read on a noisy machine; the
// absolute values are there to sanity-check it.
import { cpus, freemem, loadavg, totalmem } from 'node:os';

export type Figure = {
  /** Stable id, e.g. `append.eventlog`. */
  id: string;
  /** Which group of figures (1..10) this belongs to. */
  group: number;
  label: string;
  value: number;
  unit: string;
  anchor?: { label: string; value: number };
  /** value / anchor.value, or the comparison the target speaks of. */
  ratio?: number;
  /** The target in words, and whether this run met it. The benchmark never fails on it. */
  target?: { text: string; met: boolean };
  note?: string;
};

export const GROUPS: Record<number, string> = {
  1: 'Append',
  2: 'Group commit (100 concurrent producers)',
  3: 'REST reads',
  4: 'Start-up',
  5: 'Peers',
  6: 'Export',
  7: 'Rebuild',
  8: 'Fleet (forwarding to PostgreSQL)',
  9: 'Event loop under load (no client may hold it)',
  10: 'Webhooks (signed delivery from the log)',
  11: 'Viewer telemetry (rtcstats ingest)',
};

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

export function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    free_gb: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
    load_average: loadavg().map((x) => Math.round(x * 100) / 100),
    at: new Date().toISOString(),
  };
}

function fmt(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const n = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${n} ${unit}` : n;
}

/** One text table, grouped by figure. */
export function table(figures: Figure[]): string {
  const rows: string[][] = [['measure', 'value', 'anchor (same run)', 'ratio', 'target']];
  let group = 0;
  for (const f of figures) {
    if (f.group !== group) {
      group = f.group;
      rows.push([`${group}. ${GROUPS[group]}`, '', '', '', '']);
    }
    rows.push([
      `  ${f.label}`,
      fmt(f.value, f.unit),
      f.anchor ? `${f.anchor.label}: ${fmt(f.anchor.value, f.unit)}` : '',
      f.ratio === undefined ? '' : `${fmt(f.ratio, '')}×`,
      f.target ? `${f.target.text} ${f.target.met ? 'met' : 'MISSED'}` : '',
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows.slice(1)) out.push(line(r));
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.label}: ${f.note}`);
  return `${out.join('\n')}\n${notes.length ? `\nNotes:\n${notes.join('\n')}\n` : ''}`;
}
