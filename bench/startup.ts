// Figure 4: process start to the first answer of GET summary, with the big
// log and with an empty database, each the median of a few starts. The server
// is the real CLI (`node --import tsx src/cli.ts serve`), as `npm start` runs it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from '../src/log/open.ts';
import { MONITOR_PREFIX } from '../src/http/routes/monitor.ts';
import { nodeTs, spawnUntil, stop } from './child.ts';
import { median, type Figure } from './report.ts';

async function startOnce(dbPath: string): Promise<number> {
  const t0 = performance.now();
  const [node, args] = nodeTs('src/cli.ts', ['serve', '--port', '0', '--persistence-path', dbPath]);
  const { child, match } = await spawnUntil(
    node,
    [...args],
    /listening on (http:\/\/\S+)/,
    { env: { ...process.env, WEBRTC_MONITOR_LOG_LEVEL: 'warn' } },
  );
  try {
    for (;;) {
      const res = await fetch(`${match[1]}${MONITOR_PREFIX}/summary`).catch(() => null);
      if (res?.ok) {
        await res.json();
        return performance.now() - t0;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await stop(child);
  }
}

const head = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT coalesce(max(position), 0) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
};

export async function startupFigures(dbPath: string, events: number, runs: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'wrm-bench-startup-'));
  try {
    const empty = join(dir, 'empty.db');
    openDatabase(empty).close();
    const before = head(dbPath);
    const emptyTimes: number[] = [];
    const bigTimes: number[] = [];
    await startOnce(empty); // warms tsx's compile cache and the OS file cache
    for (let i = 0; i < runs; i++) {
      emptyTimes.push(await startOnce(empty));
      bigTimes.push(await startOnce(dbPath));
    }
    const after = head(dbPath);
    const big = median(bigTimes);
    const base = median(emptyTimes);
    return [
      {
        id: 'startup.first_summary',
        group: 4,
        label: `start to first summary, ${events.toLocaleString('en-US')}-event log`,
        value: big,
        unit: 'ms',
        anchor: { label: 'empty database', value: base },
        ratio: big / base,
        target: { text: '< 1 s', met: big < 1000 },
        note: `median of ${runs} starts each, interleaved; \`tsx src/cli.ts serve --port 0\`, polled every 5 ms${after !== before ? `; the server appended ${after - before} events at start-up` : ''}`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
