// Figure 5: N werift viewers watching one media stream with 1 s stats
// sampling, once with recording on and once with it off (bench/peer-server.ts
// says exactly what "off" is). The server runs in a child process and its CPU
// time and RSS come from /proc; the viewers run here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectViewer, type Viewer } from '../src/webrtc/viewer.ts';
import { nodeTs, spawnUntil, stop } from './child.ts';
import { median, type Figure } from './report.ts';

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  // Fields after the command name (which may contain spaces): utime is 14th, stime 15th overall.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * A viewer on `whep`. A set-up that stalls in DTLS (viewer side: ICE
 * connected, connection still connecting; seen about once in a few quick
 * runs on a loaded machine, docs/werift.md) is given up after 15 s and tried
 * once more with a new viewer; `replaced` counts those, for the figure's note.
 */
async function viewer(whep: string, replaced: { count: number }): Promise<Viewer> {
  try {
    return await connectViewer(whep, { expect: 'media', timeoutMs: 15_000 });
  } catch {
    replaced.count++;
    return connectViewer(whep, { expect: 'media', timeoutMs: 30_000 });
  }
}

async function onePass(mode: 'on' | 'off', dbPath: string, viewers: number, seconds: number, replaced: { count: number }) {
  const [cmd, args] = nodeTs('bench/peer-server.ts', [mode, dbPath, '1000']);
  const { child, match } = await spawnUntil(cmd, args, /\{"url":"([^"]+)"\}/);
  const base = match[1];
  const open: Viewer[] = [];
  try {
    const res = await fetch(`${base}/api/v0/mcp/webrtc/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'sample.webm', mode: 'media', quality: 'medium' }),
    });
    const body = (await res.json()) as { server_id?: string };
    if (!res.ok || !body.server_id) throw new Error(`POST stream answered ${res.status}: ${JSON.stringify(body)}`);
    const whep = `${base}/api/v0/mcp/webrtc/whep/${body.server_id}`;
    for (let i = 0; i < viewers; i += 10) {
      const batch = Math.min(10, viewers - i);
      const settled = await Promise.allSettled(Array.from({ length: batch }, () => viewer(whep, replaced)));
      for (const s of settled) if (s.status === 'fulfilled') open.push(s.value);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    await sleep(2000); // let set-up work and the first samples pass
    const commits = async () => (await (await fetch(`${base}/bench/commits`)).json()) as { ms: number; events: number };
    const commits0 = await commits();
    const frames0 = open.reduce((n, v) => n + v.frames, 0);
    const pid = child.pid!;
    const ticks0 = cpuTicks(pid);
    const t0 = performance.now();
    const rss: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      await sleep(500);
      rss.push(rssMb(pid, 'VmRSS'));
    }
    const windowS = (performance.now() - t0) / 1000;
    const cpu = ((cpuTicks(pid) - ticks0) / TICKS_PER_SECOND / windowS) * 100;
    const commits1 = await commits();
    const commitShare = ((commits1.ms - commits0.ms) / 1000 / windowS) * 100;
    const eventsPerS = (commits1.events - commits0.events) / windowS;
    const frames = open.reduce((n, v) => n + v.frames, 0) - frames0;
    if (frames === 0) throw new Error(`recording ${mode}: the viewers received no video frames`);
    return { cpu, rss: rss.reduce((a, b) => a + b, 0) / rss.length, peakRss: rssMb(pid, 'VmHWM'), frames, commitShare, eventsPerS };
  } finally {
    await Promise.all(open.map((v) => v.close().catch(() => {})));
    await stop(child);
  }
}

function recorded(dbPath: string) {
  const db = new Database(dbPath, { readonly: true });
  try {
    const count = (type: string) => db.prepare('SELECT count(*) FROM events WHERE type = ?').pluck().get(type) as number;
    return { events: db.prepare('SELECT count(*) FROM events').pluck().get() as number, samples: count('connection.stats_sampled') };
  } finally {
    db.close();
  }
}

const med = (xs: number[]) => median(xs);

/**
 * Passes alternate off/on (then on/off) so drift on a shared machine hits
 * both sides alike; the figure is the ratio of the medians.
 */
export async function peerFigures(dir: string, viewers: number, seconds: number, rounds: number): Promise<Figure[]> {
  const on: Awaited<ReturnType<typeof onePass>>[] = [];
  const off: Awaited<ReturnType<typeof onePass>>[] = [];
  const dbs: string[] = [];
  const replaced = { count: 0 };
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const dbPath = join(dir, `peers-${mode}-${r}.db`);
      if (mode === 'on') dbs.push(dbPath);
      (mode === 'on' ? on : off).push(await onePass(mode, dbPath, viewers, seconds, replaced));
    }
  }
  const log = recorded(dbs[0]);
  if (log.samples < viewers) throw new Error(`recording on stored only ${log.samples} stats samples for ${viewers} viewers`);
  const cpuOn = med(on.map((p) => p.cpu));
  const cpuOff = med(off.map((p) => p.cpu));
  const commitShare = med(on.map((p) => p.commitShare));
  const pct = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
  return [
    {
      id: 'peers.cpu',
      group: 5,
      label: `server CPU, ${viewers} viewers, recording on`,
      value: cpuOn,
      unit: '% of a core',
      anchor: { label: 'recording off', value: cpuOff },
      ratio: cpuOn / cpuOff,
      target: { text: '< 10 % extra CPU', met: cpuOn / cpuOff - 1 < 0.1 },
      note: `median of ${rounds} alternating passes each (on: ${pct(on.map((p) => p.cpu))}; off: ${pct(off.map((p) => p.cpu))}); one media stream (content/sample.webm), ${viewers} in-process werift viewers, stats every 1 s, ${seconds} s window after set-up; the first on pass recorded ${log.events.toLocaleString('en-US')} events (${log.samples.toLocaleString('en-US')} stats samples); off = the same server with a log that discards every append (no validation, no SQLite, no projections); ${replaced.count} viewer set-up(s) stalled in DTLS and were replaced`,
    },
    {
      id: 'peers.commit_share',
      group: 5,
      label: 'time spent committing appends, recording on',
      value: commitShare,
      unit: '% of a core',
      anchor: { label: 'server CPU, recording on', value: cpuOn },
      ratio: commitShare / cpuOn,
      note: `measured inside the server (sum of the store's commit durations over the window): ${Math.round(med(on.map((p) => p.eventsPerS)))} events/s recorded; a direct measure of recording's share that the machine's noise does not swamp`,
    },
    {
      id: 'peers.rss',
      group: 5,
      label: 'server RSS (mean), recording on',
      value: med(on.map((p) => p.rss)),
      unit: 'MB',
      anchor: { label: 'recording off', value: med(off.map((p) => p.rss)) },
      ratio: med(on.map((p) => p.rss)) / med(off.map((p) => p.rss)),
      note: `peak RSS ${Math.round(Math.max(...on.map((p) => p.peakRss)))} MB on, ${Math.round(Math.max(...off.map((p) => p.peakRss)))} MB off; video frames received per window: ${pct(on.map((p) => p.frames))} on, ${pct(off.map((p) => p.frames))} off`,
    },
  ];
}
