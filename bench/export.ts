// Figure 6: the real `export-logs` CLI over the big log, as a child process
// under GNU time for its peak RSS. The anchor is the file system's floor:
// the same files (the same count, each of its own size, in the same two
// directories) written with synchronous calls and nothing to generate, timed
// right after the export. bench/dump-log.ts (every event as one JSON line in
// a single file) is measured too, under the same conditions as the export.
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
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

/** The size of every file under `dir` (recursively), by its directory relative to `dir`. */
function tree(dir: string): { files: number; bytes: number; sizes: { sub: string; size: number }[] } {
  const sizes: { sub: string; size: number }[] = [];
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const size = statSync(join(entry.parentPath, entry.name)).size;
    sizes.push({ sub: entry.parentPath.slice(dir.length + 1), size });
    bytes += size;
  }
  return { files: sizes.length, bytes, sizes };
}

/**
 * The file-system floor: the same files (each of its own size, in its own
 * directory), each opened, written in buffers of at most 256 KB, closed and
 * renamed as the exporter does, with synchronous calls and nothing to
 * generate.
 */
function fileFloorMs(dir: string, sizes: { sub: string; size: number }[]): number {
  for (const sub of new Set(sizes.map((s) => s.sub))) mkdirSync(join(dir, sub), { recursive: true });
  const chunk = Buffer.alloc(256 * 1024, 'x');
  const t0 = performance.now();
  sizes.forEach(({ sub, size }, i) => {
    const path = join(dir, sub, `f${i}.json`);
    const fd = openSync(`${path}.partial`, 'w');
    for (let left = size; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
    closeSync(fd);
    renameSync(`${path}.partial`, path);
  });
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
    const floorMs = fileFloorMs(join(out, 'floor'), written.sizes);
    const eps = events / (run.ms / 1000);
    const floorEps = events / (floorMs / 1000);
    const anchorEps = dumped / (anchor.ms / 1000);
    return [
      {
        id: 'export.events_per_s',
        group: 6,
        label: 'export-logs, whole log',
        value: eps,
        unit: 'events/s',
        anchor: { label: 'the same files, synchronous writes', value: floorEps },
        ratio: eps / floorEps,
        target: { text: '≥ 0.6× floor, ≥ 50,000 events/s', met: eps / floorEps >= 0.6 && eps >= 50_000 },
        note: `${events.toLocaleString('en-US')} events into ${Number(m[1]).toLocaleString('en-US')} files (${(written.bytes / 1e6).toFixed(0)} MB) in ${(run.ms / 1000).toFixed(1)} s, process start included; the same ${written.files.toLocaleString('en-US')} files written with synchronous calls and nothing to generate took ${(floorMs / 1000).toFixed(1)} s (process start excluded); the JSON-lines dump of all ${dumped.toLocaleString('en-US')} events into one file took ${(anchor.ms / 1000).toFixed(1)} s (${Math.round(anchorEps).toLocaleString('en-US')} events/s)`,
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
