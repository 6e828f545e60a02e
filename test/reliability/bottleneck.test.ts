// high_rtt and high_jitter on a real network fault: the server (the real CLI)
// and a werift viewer (its own process) run in a network namespace this test
// creates, talking over the namespace's own loopback, and a qdisc on that
// loopback makes it a bottleneck link: a token bucket (tbf) slower than the
// stream, with a 300 ms queue. Every packet waits in the queue (the RTT the
// viewer's reports give rises) for a time that varies with the stream's
// bursts (their jitter rises). tbf, not netem: the kernels this runs on are
// built without sch_netem (CONFIG_NET_SCH_NETEM is not set), tbf is built
// in. Nothing outside the namespace is touched. The issues are read from the
// server's SQLite file; the times from adding the qdisc to each
// issue.raised and from removing it to each issue.resolved are printed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTENT_DIR, waitFor } from '../helpers/webrtc.ts';
import { NODE_ARGS, startCliServer } from '../helpers/cli.ts';
import { tempDir } from '../helpers/db.ts';
import { requireRoot } from '../helpers/prerequisites.ts';

const NS = `wrm-bottleneck-${process.pid}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();
const tc = (...args: string[]) => execFileSync('ip', ['netns', 'exec', NS, 'tc', ...args], { stdio: 'pipe' }).toString();

type IssueRow = { type: string; issue_type: string; stream: string; recorded_at: number; value: number | null; resolution: string | null; connection_id: string | null };

/** The server's issue events, read from its database file (read-only, beside the running server). */
function issues(path: string): IssueRow[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db
      .prepare(
        `SELECT type, json_extract(data, '$.type') AS issue_type, stream, recorded_at, json_extract(data, '$.value') AS value,
                json_extract(data, '$.resolution') AS resolution, json_extract(data, '$.connection_id') AS connection_id
           FROM events WHERE stream LIKE 'issue:%' ORDER BY position`,
      )
      .all() as IssueRow[];
  } finally {
    db.close();
  }
}

const Bottleneck = suite('high_rtt and high_jitter on a bottleneck link in a network namespace');

Bottleneck.before(() => {
  requireRoot('it creates a network namespace and a qdisc in it');
  for (const tool of ['ip', 'tc']) {
    try {
      execFileSync('which', [tool], { stdio: 'pipe' });
    } catch {
      throw new Error(`${tool} is missing. Install it with: apt-get install -y iproute2`);
    }
  }
  ip('netns', 'add', NS);
  ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
});
Bottleneck.after(() => {
  try {
    ip('netns', 'del', NS);
  } catch {
    // already gone
  }
});

Bottleneck('a bottleneck on the viewer\'s path raises high_rtt and high_jitter for its connection; each resolves once the bottleneck is gone', async () => {
  const { dir, cleanup } = tempDir('wrm-bottleneck-');
  const db = join(dir, 'monitor.db');
  const rules = join(dir, 'rules.json');
  const off = { enabled: false };
  writeFileSync(
    rules,
    JSON.stringify({
      tick_ms: 100,
      connection_failed: off, slow_setup: off, stalled: off, high_loss: off, bitrate_collapse: off, viewer_freeze: off, viewer_low_fps: off,
      high_rtt: { threshold: 100, window_ms: 1500, min_samples: 2, hold_ms: 500 },
      high_jitter: { threshold: 12, window_ms: 1500, min_samples: 2, hold_ms: 500 },
    }),
  );
  const server = startCliServer(['--port', '0', '--persistence-path', db, '--content-dir', CONTENT_DIR, '--stats-interval', '250', '--rules', rules], { netns: NS });
  let viewer: ChildProcess | null = null;
  try {
    const base = await server.url;
    viewer = spawn('ip', ['netns', 'exec', NS, process.execPath, ...NODE_ARGS, join(import.meta.dirname, '../helpers/streamViewerProcess.ts'), base], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    viewer.stdout!.setEncoding('utf8').on('data', (c) => (out += c));
    viewer.stderr!.setEncoding('utf8').on('data', (c) => (err += c));
    const { connection_id: connectionId } = await waitFor(() => (out.includes('\n') ? (JSON.parse(out.split('\n')[0]) as { connection_id: string }) : null), 30_000, `the viewer in the namespace (${err.slice(-500)})`);
    // Samples on a clean path first.
    const samples = () => {
      const d = new Database(db, { readonly: true });
      try {
        return d.prepare("SELECT json_extract(data, '$.rtt_ms') AS rtt, json_extract(data, '$.jitter_ms') AS jitter FROM events WHERE stream = ? AND type = 'connection.stats_sampled' ORDER BY position").all(`connection:${connectionId}`) as { rtt: number | null; jitter: number | null }[];
      } finally {
        d.close();
      }
    };
    await waitFor(() => samples().filter((s) => s.rtt !== null).length >= 8, 20_000, 'samples with an RTT');
    console.log(`    [measure] clean path rtt/jitter: ${samples().map((s) => `${s.rtt}/${s.jitter}`).join(' ')}`);
    assert.equal(issues(db), [], 'a clean path raises nothing');

    // The fault: a bottleneck link. A token bucket of 150 kbit/s with a 300 ms queue, below the
    // stream's rate, so the queue stays full: every packet (the viewer's RTCP reports too) waits in
    // it, and how long varies with the stream's bursts (keyframes).
    const before = samples().length;
    tc('qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '150kbit', 'burst', '3000', 'latency', '300ms');
    const faultAt = Date.now();
    const raised: Record<string, IssueRow> = {};
    for (const type of ['high_rtt', 'high_jitter']) {
      raised[type] = await waitFor(() => issues(db).find((r) => r.type === 'issue.raised' && r.issue_type === type), 20_000, `${type} raised`);
      assert.is(raised[type].connection_id, connectionId);
      console.log(`    [measure] ${type}: bottleneck (tbf 150kbit, 300 ms queue) -> issue.raised: ${raised[type].recorded_at - faultAt} ms (value ${raised[type].value})`);
    }
    tc('qdisc', 'del', 'dev', 'lo', 'root');
    const clearAt = Date.now();
    for (const type of ['high_rtt', 'high_jitter']) {
      const resolved = await waitFor(() => issues(db).find((r) => r.stream === raised[type].stream && r.type === 'issue.resolved'), 20_000, `${type} resolved`);
      assert.is(resolved.resolution, 'cleared');
      console.log(`    [measure] ${type}: bottleneck removed -> issue.resolved (hold 500 ms): ${resolved.recorded_at - clearAt} ms`);
    }
    assert.equal(issues(db).filter((r) => r.type === 'issue.raised').map((r) => r.issue_type).sort(), ['high_jitter', 'high_rtt'], 'each raised once');
    console.log(`    [measure] samples rtt/jitter through the fault: ${samples().slice(before).map((s) => `${s.rtt}/${s.jitter}`).join(' ')}`);
  } finally {
    viewer?.kill('SIGKILL');
    await server.stop();
    cleanup();
  }
});

Bottleneck.run();
