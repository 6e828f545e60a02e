// Figure 3: REST reads against a big log, with autocannon, each route beside
// a trivial JSON route mounted in the same server process. The server runs in
// a child process so autocannon does not share its event loop.
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { MONITOR_PREFIX } from '../src/http/routes/monitor.ts';
import { nodeTs, spawnUntil, stop } from './child.ts';
import type { Figure } from './report.ts';

const TRIVIAL = '/bench/trivial';
/** bench/rest-server.ts's same-bytes route (not imported: that file starts a server). */
const SAME_BYTES_PATH = '/bench/same';

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
    // The detail page and the lists as clients ask for them, at their defaults (20 items, 20 newest lifecycle events).
    const routes = [
      { id: 'summary', label: 'GET summary', path: `${MONITOR_PREFIX}/summary`, target: 'trivial' },
      { id: 'connection', label: 'GET connections/:id (busiest)', path: `${MONITOR_PREFIX}/connections/${connectionId}`, target: 'same' },
      { id: 'connections', label: 'GET connections?include_closed=true (20)', path: `${MONITOR_PREFIX}/connections?include_closed=true`, target: 'same' },
      { id: 'operations', label: 'GET operations?status=all (20)', path: `${MONITOR_PREFIX}/operations?status=all`, target: 'same' },
      { id: 'tasks', label: 'GET tasks?status=all (20)', path: `${MONITOR_PREFIX}/tasks?status=all`, target: 'same' },
    ] as const;
    const bytes = new Map<string, number>();
    for (const r of routes) {
      const body = Buffer.from(await (await fetch(base + r.path)).arrayBuffer());
      bytes.set(r.id, body.byteLength);
      // The anchor: Koa in the same process answering these very bytes, with no work.
      const put = await fetch(`${base}${SAME_BYTES_PATH}/${r.id}`, { method: 'PUT', body });
      if (put.status !== 204) throw new Error(`PUT same bytes for ${r.id}: ${put.status}`);
    }
    const same = (id: string) => `${SAME_BYTES_PATH}/${id}`;
    // Warm the JIT and SQLite's page cache on every route first.
    for (const r of routes) {
      await load(base + r.path, 1);
      await load(base + same(r.id), 1);
    }
    await load(base + TRIVIAL, 1);
    // The trivial route is measured before and after the others; its mean is the summary's anchor.
    // Each other route is measured right after its same-bytes anchor.
    const before = await load(base + TRIVIAL, seconds);
    const measured = [];
    for (const r of routes) {
      const anchor = r.target === 'same' ? await load(base + same(r.id), seconds) : null;
      measured.push({ ...r, anchor, ...(await load(base + r.path, seconds)) });
    }
    const after = await load(base + TRIVIAL, seconds);
    const trivial = { rps: (before.rps + after.rps) / 2, p99: Math.max(before.p99, after.p99) };
    const log = `${events.toLocaleString('en-US')}-event log`;
    const figures: Figure[] = [];
    for (const m of measured) {
      const kb = `${(bytes.get(m.id)! / 1024).toFixed(1)} KB per response`;
      if (m.anchor) {
        figures.push({
          id: `rest.${m.id}.rps`,
          group: 3,
          label: `${m.label}`,
          value: m.rps,
          unit: 'req/s',
          anchor: { label: 'Koa serving the same bytes', value: m.anchor.rps },
          ratio: m.rps / m.anchor.rps,
          target: { text: '≥ 0.8× same bytes', met: m.rps / m.anchor.rps >= 0.8 },
          note: `${kb}; the same bytes from Koa with no work: ${Math.round(m.anchor.rps)} req/s, p99 ${m.anchor.p99} ms (${(m.anchor.rps / trivial.rps).toFixed(2)}× the trivial route: what the size alone costs)`,
        });
      } else {
        figures.push({
          id: `rest.${m.id}.rps`,
          group: 3,
          label: `${m.label}`,
          value: m.rps,
          unit: 'req/s',
          anchor: { label: 'trivial Koa route', value: trivial.rps },
          ratio: m.rps / trivial.rps,
          target: { text: '≥ 0.6× trivial', met: m.rps / trivial.rps >= 0.6 },
          note: kb,
        });
      }
      figures.push({
        id: `rest.${m.id}.p99`,
        group: 3,
        label: `${m.label} p99`,
        value: m.p99,
        unit: 'ms',
        anchor: m.anchor ? { label: 'Koa serving the same bytes', value: m.anchor.p99 } : { label: 'trivial Koa route', value: trivial.p99 },
        ratio: m.p99 / Math.max(m.anchor ? m.anchor.p99 : trivial.p99, 1),
        target: { text: '< 10 ms', met: m.p99 < 10 },
      });
    }
    figures[0].note = `${figures[0].note}; ${log}; autocannon, 10 connections, ${seconds} s per route, server in its own process; trivial route measured before and after (${Math.round(before.rps)} / ${Math.round(after.rps)} req/s); each other route right after Koa answering its bytes (PUT once to a bench-only route, same middleware); p99 ratios use max(anchor p99, 1 ms); the monitor's responses come from its response cache while the log stands still, as on a server whose log is quiet`;
    return figures;
  } finally {
    await stop(child);
  }
}
