// Figure 3: REST reads against a big log, with autocannon, each route beside
// a trivial JSON route mounted in the same server process. The server runs in
// a child process so autocannon does not share its event loop.
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { MONITOR_PREFIX } from '../src/http/routes/monitor.ts';
import { nodeTs, spawnUntil, stop } from './child.ts';
import type { Figure } from './report.ts';

const TRIVIAL = '/bench/trivial';

/** The connection with the most events: the heaviest detail page the log has. */
function busiestConnection(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id FROM connection_stats ORDER BY event_count DESC LIMIT 1').pluck().get() as string;
  } finally {
    db.close();
  }
}

async function load(url: string, seconds: number) {
  const r = await autocannon({ url, connections: 10, duration: seconds, pipelining: 1 });
  if (r.non2xx || r.errors || r.timeouts) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
  return { rps: r.requests.average, p99: r.latency.p99 };
}

export async function restFigures(dbPath: string, events: number, seconds: number): Promise<Figure[]> {
  const connectionId = busiestConnection(dbPath);
  const [cmd, args] = nodeTs('bench/rest-server.ts', [dbPath]);
  const { child, match } = await spawnUntil(cmd, args, /\{"url":"([^"]+)"\}/);
  const base = match[1];
  try {
    const routes = [
      { id: 'summary', label: 'GET summary', path: `${MONITOR_PREFIX}/summary` },
      { id: 'connection', label: 'GET connections/:id (busiest)', path: `${MONITOR_PREFIX}/connections/${connectionId}` },
      { id: 'operations', label: 'GET operations?status=all (100)', path: `${MONITOR_PREFIX}/operations?status=all` },
      { id: 'tasks', label: 'GET tasks?status=all (100)', path: `${MONITOR_PREFIX}/tasks?status=all` },
    ];
    const bytes = new Map<string, number>();
    for (const r of routes) bytes.set(r.id, (await (await fetch(base + r.path)).arrayBuffer()).byteLength);
    // Warm the JIT and SQLite's page cache on every route first.
    for (const r of [{ path: TRIVIAL }, ...routes]) await load(base + r.path, 1);
    // The trivial route is measured before and after the others; its mean is the anchor.
    const before = await load(base + TRIVIAL, seconds);
    const measured = [];
    for (const r of routes) measured.push({ ...r, ...(await load(base + r.path, seconds)) });
    const after = await load(base + TRIVIAL, seconds);
    const trivial = { rps: (before.rps + after.rps) / 2, p99: Math.max(before.p99, after.p99) };
    const log = `${events.toLocaleString('en-US')}-event log`;
    const figures: Figure[] = [];
    for (const m of measured) {
      figures.push({
        id: `rest.${m.id}.rps`,
        group: 3,
        label: `${m.label}`,
        value: m.rps,
        unit: 'req/s',
        anchor: { label: 'trivial Koa route', value: trivial.rps },
        ratio: m.rps / trivial.rps,
        target: { text: '≥ 0.6× trivial', met: m.rps / trivial.rps >= 0.6 },
        note: `${(bytes.get(m.id)! / 1024).toFixed(1)} KB per response`,
      });
      figures.push({
        id: `rest.${m.id}.p99`,
        group: 3,
        label: `${m.label} p99`,
        value: m.p99,
        unit: 'ms',
        anchor: { label: 'trivial Koa route', value: trivial.p99 },
        ratio: m.p99 / Math.max(trivial.p99, 1),
        target: { text: '< 10 ms', met: m.p99 < 10 },
      });
    }
    figures[0].note = `${figures[0].note}; ${log}; autocannon, 10 connections, ${seconds} s per route, server in its own process; trivial route measured before and after (${Math.round(before.rps)} / ${Math.round(after.rps)} req/s); p99 ratios use max(trivial p99, 1 ms)`;
    return figures;
  } finally {
    await stop(child);
  }
}
