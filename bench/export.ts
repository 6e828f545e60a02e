// Figure 6: the real `export-logs` CLI over the big log, as a child process
// under GNU time for its peak RSS. The anchor is bench/dump-log.ts under the
// same conditions: every event as one JSON line in a single file, the least
// an export can do.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeTs, runToEnd } from './child.ts';
import type { Figure } from './report.ts';

const TIME = '/usr/bin/time';

async function timed(script: string, args: string[]) {
  const [node, nodeArgs] = nodeTs(script, args);
  const r = await runToEnd(TIME, ['-v', node, ...nodeArgs]);
  if (r.code !== 0) throw new Error(`${args[0]} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (!kb) throw new Error('GNU time printed no maximum resident set size');
  return { ms: r.ms, rssMb: Number(kb[1]) / 1024, stdout: r.stdout };
}

export async function exportFigures(dbPath: string): Promise<Figure[]> {
  const out = mkdtempSync(join(tmpdir(), 'wrm-bench-export-'));
  try {
    const anchor = await timed('bench/dump-log.ts', [dbPath, join(out, 'dump.jsonl')]);
    const dumped = Number(/dumped (\d+) events/.exec(anchor.stdout)?.[1]);
    rmSync(join(out, 'dump.jsonl'));
    const run = await timed('src/cli.ts', ['export-logs', '--persistence-path', dbPath, '--out', out]);
    const m = /wrote (\d+) files \((\d+) connections, (\d+) operations, (\d+) events\)/.exec(run.stdout);
    if (!m) throw new Error(`unexpected export-logs output: ${run.stdout}`);
    const events = Number(m[4]);
    const eps = events / (run.ms / 1000);
    const anchorEps = dumped / (anchor.ms / 1000);
    return [
      {
        id: 'export.events_per_s',
        group: 6,
        label: 'export-logs, whole log',
        value: eps,
        unit: 'events/s',
        anchor: { label: 'whole log as one JSON-lines file', value: anchorEps },
        ratio: eps / anchorEps,
        target: { text: '≥ 50,000 events/s', met: eps >= 50_000 },
        note: `${events.toLocaleString('en-US')} events into ${Number(m[1]).toLocaleString('en-US')} files in ${(run.ms / 1000).toFixed(1)} s, process start included; the JSON-lines dump of all ${dumped.toLocaleString('en-US')} events took ${(anchor.ms / 1000).toFixed(1)} s`,
      },
      {
        id: 'export.peak_rss',
        group: 6,
        label: 'export-logs peak RSS',
        value: run.rssMb,
        unit: 'MB',
        anchor: { label: 'JSON-lines dump', value: anchor.rssMb },
        ratio: run.rssMb / anchor.rssMb,
        target: { text: '< 200 MB', met: run.rssMb < 200 },
        note: 'GNU time -v, maximum resident set size of `node --import tsx src/cli.ts export-logs`',
      },
    ];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
