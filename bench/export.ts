// Figure 6: the real `export-logs` CLI over the big log, as a child process
// under GNU time for its peak RSS. The anchor is bench/dump-log.ts under the
// same conditions: every event as one JSON line in a single file, the least
// an export can do.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
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

/** Bytes and count of the files under `dir` (recursively). */
function tree(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

/** The file-system floor: the same number of files of the same mean size, opened, written, closed and renamed as the exporter does. */
async function fileFloorMs(dir: string, files: number, meanBytes: number): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const body = 'x'.repeat(Math.max(1, Math.round(meanBytes)));
  const t0 = performance.now();
  for (let i = 0; i < files; i++) {
    const path = join(dir, `f${i}.json`);
    const handle = await open(`${path}.partial`, 'w');
    await handle.write(body);
    await handle.close();
    await rename(`${path}.partial`, path);
  }
  return performance.now() - t0;
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
    const written = tree(out);
    rmSync(out, { recursive: true, force: true });
    const floorMs = await fileFloorMs(join(out, 'floor'), written.files, written.bytes / written.files);
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
        note: `${events.toLocaleString('en-US')} events into ${Number(m[1]).toLocaleString('en-US')} files in ${(run.ms / 1000).toFixed(1)} s, process start included; writing ${written.files.toLocaleString('en-US')} files of the same mean size (${Math.round(written.bytes / written.files / 1024)} KB) with nothing to generate took ${(floorMs / 1000).toFixed(1)} s on this disk; the JSON-lines dump of all ${dumped.toLocaleString('en-US')} events took ${(anchor.ms / 1000).toFixed(1)} s`,
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
