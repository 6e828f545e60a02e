// Figure 7: the real `rebuild` CLI replaying a copy of the big log into fresh
// read models, beside the append rate measured in the same run.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeTs, runToEnd } from './child.ts';
import type { Figure } from './report.ts';

export async function rebuildFigures(dbPath: string, appendRate: number): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'wrm-bench-rebuild-'));
  try {
    // A copy: rebuild rewrites the read models, and the cached log must stay as generated.
    const copy = join(dir, 'rebuild.db');
    copyFileSync(dbPath, copy);
    const [node, args] = nodeTs('src/cli.ts', ['rebuild', '--persistence-path', copy]);
    const r = await runToEnd(node, args);
    const m = /rebuilt read models from (\d+) events in (\d+) ms \((\d+) events\/s\)/.exec(r.stdout);
    if (r.code !== 0 || !m) throw new Error(`rebuild failed (${r.code}): ${r.stdout}${r.stderr.slice(-2000)}`);
    const eps = Number(m[3]);
    return [
      {
        id: 'rebuild.events_per_s',
        group: 7,
        label: 'rebuild (replay into fresh read models)',
        value: eps,
        unit: 'events/s',
        anchor: { label: 'EventStore.append (figure 1)', value: appendRate },
        ratio: eps / appendRate,
        note: `${Number(m[1]).toLocaleString('en-US')} events in ${(Number(m[2]) / 1000).toFixed(1)} s as the CLI reports it (process start excluded), 10,000 events per transaction`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
