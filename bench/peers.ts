// Figure 5: N werift viewers watching one media stream with 1 s stats
// sampling, once with recording on and once with it off (bench/peer-server.ts
// says exactly what "off" is). The server runs in a child process and its CPU
// time and RSS come from /proc; the viewers run here.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { connectViewer, type Viewer } from '../src/webrtc/viewer.ts';
import { nodeTs, ROOT, spawnUntil, stop } from './child.ts';
import { median, percentile, type Figure } from './report.ts';

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
 * runs on a loaded machine, more with the load average above 20,
 * docs/werift.md) is given up after 15 s and tried again with a new viewer,
 * up to twice; `replaced` counts those, for the figure's note.
 */
async function viewer(whep: string, replaced: { count: number; failed: number }): Promise<Viewer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await connectViewer(whep, { expect: 'media', timeoutMs: attempt === 0 ? 15_000 : 30_000 });
    } catch (err) {
      if (attempt === 2) throw err;
      replaced.count++;
    }
  }
}

/** What one window of a pass measured. */
type Window = {
  viewers: number;
  cpu: number;
  rss: number;
  frames: number;
  commitShare: number;
  eventsPerS: number;
  /** Per viewer: video frames received per second of the window (wall clock). */
  fps: number[];
  /** Per viewer: frames per second of media received (RTP timestamps): the clip's own rate when nothing is lost. */
  mediaFps: number[];
  /** Per viewer: RTP packets (audio and video) received per second of media. */
  mediaPps: number[];
  /** CPU seconds the process used in the window, and the RTP packets it sent (received by the viewers or the sink). */
  cpuS: number;
  packets: number;
};

/** Measures one window of `seconds` on process `pid`, with `open` viewers receiving. */
async function measure(
  pid: number,
  open: Viewer[],
  seconds: number,
  commits?: () => Promise<{ ms: number; events: number }>,
  sent: () => number = () => open.reduce((n, v) => n + v.packets, 0),
): Promise<Omit<Window, 'viewers'>> {
  const commits0 = commits ? await commits() : { ms: 0, events: 0 };
  const frames0 = open.map((v) => v.frames);
  const packets0 = open.map((v) => v.packets);
  const sent0 = sent();
  const spans = open.map(() => ({ first: -1, last: -1, count: 0 }));
  const unsubscribe = open.map((v, i) =>
    v.onVideoFrame((ts) => {
      const span = spans[i];
      if (span.first < 0) span.first = ts;
      span.last = ts;
      span.count++;
    }),
  );
  const ticks0 = cpuTicks(pid);
  const t0 = performance.now();
  const rss: number[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    await sleep(500);
    rss.push(rssMb(pid, 'VmRSS'));
  }
  const windowS = (performance.now() - t0) / 1000;
  const cpuS = (cpuTicks(pid) - ticks0) / TICKS_PER_SECOND;
  const cpu = (cpuS / windowS) * 100;
  const packets = sent() - sent0;
  const packetsPerViewer = open.map((v, i) => v.packets - packets0[i]);
  for (const u of unsubscribe) u();
  const commits1 = commits ? await commits() : { ms: 0, events: 0 };
  const perViewer = open.map((v, i) => v.frames - frames0[i]);
  return {
    cpu,
    rss: rss.reduce((a, b) => a + b, 0) / rss.length,
    frames: perViewer.reduce((a, b) => a + b, 0),
    commitShare: ((commits1.ms - commits0.ms) / 1000 / windowS) * 100,
    eventsPerS: (commits1.events - commits0.events) / windowS,
    fps: perViewer.map((n) => n / windowS),
    mediaFps: spans.filter((s) => s.count > 1).map((s) => (s.count - 1) / (((s.last - s.first) >>> 0) / 90_000)),
    mediaPps: spans.flatMap((s, i) => (s.count > 1 ? [packetsPerViewer[i] / (((s.last - s.first) >>> 0) / 90_000)] : [])),
    cpuS,
    packets,
  };
}

/**
 * One server process (recording on or off), its viewers added in batches of
 * 10 up to each of `counts` in turn, with a window measured at each.
 */
async function onePass(mode: 'on' | 'off', dbPath: string, counts: number[], seconds: number, replaced: { count: number; failed: number }) {
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
    const commits = async () => (await (await fetch(`${base}/bench/commits`)).json()) as { ms: number; events: number };
    const windows: Window[] = [];
    let leftOut = 0;
    for (const count of counts) {
      for (let asked = open.length; asked < count; ) {
        const batch = Math.min(10, count - asked);
        asked += batch;
        const settled = await Promise.allSettled(Array.from({ length: batch }, () => viewer(whep, replaced)));
        for (const s of settled) if (s.status === 'fulfilled') open.push(s.value);
        // A viewer that could not connect in three tries is left out and counted
        // (the window reports the viewers it had); more than a tenth is a failure.
        const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
        replaced.failed += failed.length;
        leftOut += failed.length;
        if (leftOut > Math.max(2, count / 10)) throw new Error(`${leftOut} of ${count} viewers could not connect: ${(failed[0]?.reason as Error)?.message}`);
      }
      if (count > 0) await sleep(2000); // let set-up work and the first samples pass
      const w = await measure(child.pid!, open, seconds, commits);
      if (count > 0 && w.frames === 0) throw new Error(`recording ${mode}, ${count} viewers: the viewers received no video frames`);
      windows.push({ viewers: open.length, ...w });
    }
    return { windows, peakRss: rssMb(child.pid!, 'VmHWM') };
  } finally {
    await Promise.all(open.map((v) => v.close().catch(() => {})));
    await stop(child);
  }
}

/** The floor (bench/srtp-floor.ts): the same clip's packets SRTP-encrypted and sent per viewer, with a window at each of `counts`. */
async function floorPass(counts: number[], seconds: number) {
  const sink = createSocket('udp4');
  let received = 0;
  sink.on('message', () => received++);
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const [cmd, args] = nodeTs('bench/srtp-floor.ts', [join(ROOT, 'content', 'sample.webm'), String(sink.address().port)]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done) throw new Error('bench/srtp-floor.ts ended early');
    return JSON.parse(line.value) as { ready?: boolean; viewers?: number };
  };
  try {
    await next();
    const windows: { viewers: number; cpu: number; packetsPerS: number; cpuS: number; packets: number }[] = [];
    for (const count of counts) {
      child.stdin!.write(`${count}\n`);
      await next();
      await sleep(1000);
      const w = await measure(child.pid!, [], seconds, undefined, () => received);
      windows.push({ viewers: count, cpu: w.cpu, packetsPerS: w.packets / seconds, cpuS: w.cpuS, packets: w.packets });
    }
    return windows;
  } finally {
    child.stdin!.end();
    await stop(child);
    sink.close();
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
 * CPU seconds per RTP packet sent to the viewers added between the first and
 * last window of a pass. Per packet rather than per second of wall clock: on
 * a machine too loaded to give the server the CPU it asks for, packets are
 * sent late, not cheaper, so the per-packet cost still holds; times the
 * clip's packets per second of media it is the cost of a viewer in real time.
 */
const perPacket = (ws: { cpuS: number; packets: number }[]) => (ws.at(-1)!.cpuS - ws[0].cpuS) / (ws.at(-1)!.packets - ws[0].packets);

/**
 * Rounds alternate their order (off, on, floor; then floor, on, off) so
 * drift on a shared machine hits every side alike; figures are ratios of
 * medians. Each pass measures a window at `base` viewers and one at
 * `viewers`: the difference per viewer is the cost of an added viewer, the
 * one stream's player and the idle server cancelling out. A last pass holds
 * `held` viewers.
 */
export async function peerFigures(dir: string, viewers: number, seconds: number, rounds: number, options: { base: number; held: number; floorViewers?: number }): Promise<Figure[]> {
  const on: Awaited<ReturnType<typeof onePass>>[] = [];
  const off: Awaited<ReturnType<typeof onePass>>[] = [];
  const floor: Awaited<ReturnType<typeof floorPass>>[] = [];
  const dbs: string[] = [];
  const replaced = { count: 0, failed: 0 };
  const counts = [options.base, viewers];
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? (['off', 'on', 'floor'] as const) : (['floor', 'on', 'off'] as const)) {
      if (mode === 'floor') {
        floor.push(await floorPass([options.base, options.floorViewers ?? viewers], seconds));
        continue;
      }
      const dbPath = join(dir, `peers-${mode}-${r}.db`);
      if (mode === 'on') dbs.push(dbPath);
      (mode === 'on' ? on : off).push(await onePass(mode, dbPath, counts, seconds, replaced));
    }
  }
  // The quick run asks no more viewers than its rounds had: its last on pass is the held one.
  const heldPass = options.held === viewers ? on.at(-1)! : await onePass('on', join(dir, 'peers-held.db'), [options.held], seconds, replaced);
  const log = recorded(dbs[0]);
  if (log.samples < viewers) throw new Error(`recording on stored only ${log.samples} stats samples for ${viewers} viewers`);
  const full = (p: Awaited<ReturnType<typeof onePass>>) => p.windows.at(-1)!;
  const cpuOn = med(on.map((p) => full(p).cpu));
  const cpuOff = med(off.map((p) => full(p).cpu));
  const commitShare = med(on.map((p) => full(p).commitShare));
  const pct = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
  const two = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  // The clip's RTP packets (audio and video) per second of media, as the viewers received them.
  const clipPps = med(on.flatMap((p) => full(p).mediaPps));
  const perViewer = on.map((p) => perPacket(p.windows) * clipPps * 100);
  const perViewerFloor = floor.map((w) => perPacket(w) * clipPps * 100);
  const realTime = on.map((p) => med(full(p).fps) / med(full(p).mediaFps));
  const added = med(perViewer);
  const addedFloor = med(perViewerFloor);
  const held = full(heldPass);
  const clipFps = med(held.mediaFps);
  // Held: frames per second of wall clock within 10 % of the clip's own rate (frames per second of media).
  const heldCount = held.fps.filter((f) => f >= 0.9 * clipFps).length;
  const sortedFps = [...held.fps].sort((a, b) => a - b);
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
      note: `median of ${rounds} alternating passes each (on: ${pct(on.map((p) => full(p).cpu))}; off: ${pct(off.map((p) => full(p).cpu))}); one media stream (content/sample.webm) played by one file player and fanned out, ${viewers} in-process werift viewers, stats every 1 s, ${seconds} s window after set-up; the first on pass recorded ${log.events.toLocaleString('en-US')} events (${log.samples.toLocaleString('en-US')} stats samples); off = the same server with a log that discards every append (no validation, no SQLite, no projections); ${replaced.count} viewer set-up(s) stalled in DTLS and were replaced, ${replaced.failed} viewer(s) left out after three tries`,
    },
    {
      id: 'peers.commit_share',
      group: 5,
      label: 'time spent committing appends, recording on',
      value: commitShare,
      unit: '% of a core',
      anchor: { label: 'server CPU, recording on', value: cpuOn },
      ratio: commitShare / cpuOn,
      note: `measured inside the server (sum of the store's commit durations over the window): ${Math.round(med(on.map((p) => full(p).eventsPerS)))} events/s recorded; a direct measure of recording's share that the machine's noise does not swamp`,
    },
    {
      id: 'peers.rss',
      group: 5,
      label: 'server RSS (mean), recording on',
      value: med(on.map((p) => full(p).rss)),
      unit: 'MB',
      anchor: { label: 'recording off', value: med(off.map((p) => full(p).rss)) },
      ratio: med(on.map((p) => full(p).rss)) / med(off.map((p) => full(p).rss)),
      note: `peak RSS ${Math.round(Math.max(...on.map((p) => p.peakRss)))} MB on, ${Math.round(Math.max(...off.map((p) => p.peakRss)))} MB off; video frames received per window: ${pct(on.map((p) => full(p).frames))} on, ${pct(off.map((p) => full(p).frames))} off`,
    },
    {
      id: 'peers.per_viewer',
      group: 5,
      label: 'server CPU per added viewer (fan-out, recording on)',
      value: added,
      unit: '% of a core',
      anchor: { label: 'SRTP + UDP send alone per viewer', value: addedFloor },
      ratio: added / addedFloor,
      target: { text: '≤ 0.45 % and ≤ 2× the floor', met: added <= 0.45 && added / addedFloor <= 2 },
      note: `CPU seconds per RTP packet sent to the viewers added between ${options.base} and ${viewers} (floor: ${options.floorViewers ?? viewers}), times the clip's ${clipPps.toFixed(1)} packets per second of media: the cost of a viewer in real time, however loaded the machine (the viewers got ${two(realTime)}× real time at ${viewers}); median of ${rounds} passes each (server: ${two(perViewer)}; floor: ${two(perViewerFloor)}), interleaved with the passes above; the floor is bench/srtp-floor.ts: the same clip from one werift player, each packet given a header per viewer, encrypted with werift's SRTP (AEAD_AES_128_GCM, as werift peers negotiate) and sent on a UDP socket per viewer to a sink on loopback (${Math.round(med(floor.map((w) => w.at(-1)!.packetsPerS)))} packets/s received at ${options.floorViewers ?? viewers} viewers); the server adds the RTP sender, the peer's ICE/DTLS transport, RTCP, stats sampling and recording`,
    },
    {
      id: 'peers.held',
      group: 5,
      label: `viewers held at the clip's frame rate, ${options.held} asked`,
      value: heldCount,
      unit: 'viewers',
      anchor: { label: 'viewers connected', value: held.viewers },
      ratio: heldCount / held.viewers,
      target: { text: `${options.held} held`, met: heldCount >= options.held },
      note: `one server (recording on, stats every 1 s), ${held.viewers} viewers, ${seconds} s window: a viewer is held when its frames per second of wall clock are within 10 % of the clip's rate (median ${clipFps.toFixed(1)} frames per second of media, from RTP timestamps); per-viewer frames/s min ${sortedFps[0]?.toFixed(1)}, p5 ${percentile(sortedFps, 5).toFixed(1)}, median ${percentile(sortedFps, 50).toFixed(1)}; server CPU ${Math.round(held.cpu)} % of a core, RSS ${Math.round(held.rss)} MB (peak ${Math.round(heldPass.peakRss)} MB); the viewers run in the benchmark's own process on the same 2 cores`,
    },
    {
      id: 'peers.held_cpu',
      group: 5,
      label: `server CPU, ${options.held} viewers, recording on`,
      value: held.cpu,
      unit: '% of a core',
      anchor: { label: `${viewers} viewers`, value: cpuOn },
      ratio: held.cpu / cpuOn,
    },
    {
      id: 'peers.held_rss',
      group: 5,
      label: `server RSS (mean), ${options.held} viewers`,
      value: held.rss,
      unit: 'MB',
      anchor: { label: `${viewers} viewers`, value: med(on.map((p) => full(p).rss)) },
      ratio: held.rss / med(on.map((p) => full(p).rss)),
    },
  ];
}
