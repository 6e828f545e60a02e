// Figure 5: N werift viewers watching one media stream with 1 s stats
// sampling, once with recording on and once with it off (bench/peer-server.ts
// says exactly what "off" is). The server runs in a child process and its CPU
// time and RSS come from /proc; the viewers run here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectViewer, type Viewer } from '../src/webrtc/viewer.ts';
import { nodeTs, spawnUntil, stop } from './child.ts';
import type { Figure } from './report.ts';

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

async function onePass(mode: 'on' | 'off', dbPath: string, viewers: number, seconds: number) {
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
      open.push(...(await Promise.all(Array.from({ length: batch }, () => connectViewer(whep, { expect: 'media', timeoutMs: 30_000 })))));
    }
    await sleep(2000); // let set-up work and the first samples pass
    const frames0 = open.reduce((n, v) => n + v.frames, 0);
    const pid = child.pid!;
    const ticks0 = cpuTicks(pid);
    const t0 = performance.now();
    const rss: number[] = [];
    while (performance.now() - t0 < seconds * 1000) {
      await sleep(500);
      rss.push(rssMb(pid, 'VmRSS'));
    }
    const cpu = ((cpuTicks(pid) - ticks0) / TICKS_PER_SECOND / ((performance.now() - t0) / 1000)) * 100;
    const frames = open.reduce((n, v) => n + v.frames, 0) - frames0;
    if (frames === 0) throw new Error(`recording ${mode}: the viewers received no video frames`);
    return { cpu, rss: rss.reduce((a, b) => a + b, 0) / rss.length, peakRss: rssMb(pid, 'VmHWM'), frames };
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

export async function peerFigures(dir: string, viewers: number, seconds: number): Promise<Figure[]> {
  const dbPath = join(dir, 'peers.db');
  const off = await onePass('off', join(dir, 'unused.db'), viewers, seconds);
  const on = await onePass('on', dbPath, viewers, seconds);
  const log = recorded(dbPath);
  if (log.samples < viewers) throw new Error(`recording on stored only ${log.samples} stats samples for ${viewers} viewers`);
  const extra = on.cpu / off.cpu - 1;
  return [
    {
      id: 'peers.cpu',
      group: 5,
      label: `server CPU, ${viewers} viewers, recording on`,
      value: on.cpu,
      unit: '% of a core',
      anchor: { label: 'recording off', value: off.cpu },
      ratio: on.cpu / off.cpu,
      target: { text: '< 10 % extra CPU', met: extra < 0.1 },
      note: `one media stream (content/sample.webm), ${viewers} in-process werift viewers, stats every 1 s, measured over ${seconds} s after set-up; on recorded ${log.events.toLocaleString('en-US')} events (${log.samples.toLocaleString('en-US')} stats samples); off = same server with a log that discards every append (no validation, no SQLite, no projections)`,
    },
    {
      id: 'peers.rss',
      group: 5,
      label: `server RSS (mean), recording on`,
      value: on.rss,
      unit: 'MB',
      anchor: { label: 'recording off', value: off.rss },
      ratio: on.rss / off.rss,
      note: `peak RSS ${Math.round(on.peakRss)} MB on, ${Math.round(off.peakRss)} MB off; video frames received over the window: ${on.frames} on, ${off.frames} off`,
    },
  ];
}
