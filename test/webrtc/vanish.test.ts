// A viewer that goes silent, then vanishes without a word: a werift viewer in
// its own process, stopped (SIGSTOP), continued (SIGCONT), then killed
// (SIGKILL). The server's peers are ICE-lite and werift's lite agent runs no
// consent checks, so the liveness watchdog is what notices: silence for
// --stall-after is `connection.stalled`, traffic again `connection.resumed`,
// silence for --consent-timeout fails the connection, closes it with
// initiator `ice`, and frees the peer. Short limits keep it quick; the stats
// interval is longer than the consent timeout, to show the two are
// independent. Every wait is for an event; the figures are printed, not asserted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { MONITOR, WEBRTC, startWebRtcServer, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';
import { scrape, value } from '../helpers/metrics.ts';

const root = resolve(import.meta.dirname, '../..');
const STALL_AFTER_MS = 2000;
const CONSENT_TIMEOUT_MS = 5000;
let server: WebRtcTestServer;
let child: ChildProcess | null = null;

type Event = { type: string; position: number; recorded_at: string; data: Record<string, any> };
const timeline = async (id: string): Promise<Event[]> => (await server.json(`${MONITOR}/connections/${id}?events_limit=1000`)).body.timeline.events;
const liveness = (events: Event[]) => events.filter((e) => e.type === 'connection.stalled' || e.type === 'connection.resumed').map((e) => e.type.slice(11));
const listed = async (query: string) => Object.keys((await server.json(`${MONITOR}/connections?${query}`)).body.connections);

const test = suite('a remote peer that goes silent, then vanishes');
test.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 10_000, stallAfterMs: STALL_AFTER_MS, consentTimeoutMs: CONSENT_TIMEOUT_MS });
});
test.after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server.stop();
});

test('is stalled while stopped, resumed when continued, then failed at the consent timeout and closed by the server with initiator ice', async () => {
  const stream = await server.stream();
  child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/viewerProcess.ts', stream.whep_url, 'media'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const { connection_id: id } = JSON.parse(line);
  await waitFor(async () => (await server.json(`${MONITOR}/connections/${id}`)).body.connection.category === 'connected', 15_000, 'connected');
  // Streaming for real: the viewer's receiver reports are arriving (the live stats, not a sample).
  await waitFor(
    async () => ((await server.json(`${WEBRTC}/connections/${id}/stats`)).body.stats.tracks as { receiver_reports: number }[]).every((t) => t.receiver_reports > 0),
    10_000,
    'receiver reports on every track',
  );

  // Stopped: nothing arrives, so it stalls, and every view shows it.
  const stoppedAt = Date.now();
  child.kill('SIGSTOP');
  const stalled = await waitFor(async () => (await timeline(id)).find((e) => e.type === 'connection.stalled'), 15_000, 'connection.stalled');
  assert.ok(stalled.data.silent_ms >= STALL_AFTER_MS, `stalled after ${stalled.data.silent_ms} ms of silence`);
  assert.is(stalled.data.stall_after_ms, STALL_AFTER_MS);
  assert.type(stalled.data.last_heard_ms.rtcp, 'number', `the viewer had been sending receiver reports: ${JSON.stringify(stalled.data)}`);
  const c = (await server.json(`${MONITOR}/connections/${id}`)).body.connection;
  assert.equal([c.stalled, c.stall_count, c.category], [true, 1, 'connected']);
  assert.equal(await listed('stalled=true'), [id]);
  assert.equal(await listed('stalled=false'), []);
  assert.is((await server.json(`${MONITOR}/summary`)).body.stalled_connections, 1);
  assert.is((await server.json(`${WEBRTC}/stats/resources`)).body.webrtc.stalled_peers, 1);
  assert.is(value(await scrape(server), 'webrtc_connections_stalled'), 1);

  // Continued: its receiver reports and checks arrive again.
  child.kill('SIGCONT');
  const resumed = await waitFor(async () => (await timeline(id)).find((e) => e.type === 'connection.resumed'), 15_000, 'connection.resumed');
  assert.ok(resumed.data.stalled_ms >= 0 && resumed.data.via.length > 0, JSON.stringify(resumed.data));
  assert.is((await server.json(`${MONITOR}/connections/${id}`)).body.connection.stalled, false);
  assert.equal(await listed('stalled=true'), []);

  // Killed: stalled again, then consent expires.
  const killedAt = Date.now();
  child.kill('SIGKILL');
  await once(child, 'exit');
  const closed = await waitFor(
    async () => {
      const conn = (await server.json(`${MONITOR}/connections/${id}`)).body.connection;
      return conn.category === 'closed' ? conn : null;
    },
    30_000,
    'the consent timeout',
  );
  const events = await timeline(id);
  assert.equal(liveness(events), ['stalled', 'resumed', 'stalled']);
  const stalledAgain = events.filter((e) => e.type === 'connection.stalled')[1];
  const failed = events.find((e) => e.type === 'connection.state_changed' && e.data.kind === 'connection' && e.data.to === 'failed')!;
  assert.ok(failed, 'the connection state went to failed');
  assert.ok(stalledAgain.position < failed.position, 'stalled before it failed');
  const expired = events.find((e) => e.type === 'connection.error' && e.data.code === 'CONSENT_EXPIRED');
  assert.ok(expired && expired.data.fatal, 'the failure is in the log');
  assert.equal(closed.close, { reason: 'consent_expired', initiator: 'ice' });
  assert.is(closed.outcome, 'failed');
  assert.equal([closed.stalled, closed.stall_count], [false, 2]);
  assert.is(closed.failure.code, 'CONSENT_EXPIRED');
  assert.equal(await listed('outcome=failed'), [id]);
  assert.equal(await listed('outcome=clean'), []);
  const summary = (await server.json(`${MONITOR}/summary`)).body;
  assert.equal(summary.connection_outcomes, { clean: 0, failed: 1, shutdown: 0, process_restart: 0 });
  assert.is(summary.connection_states.failed, 0, "the original's shape: it is closed now");
  assert.is(summary.stalled_connections, 0);
  const metrics = await scrape(server);
  assert.is(value(metrics, 'webrtc_connections_ended_total', { outcome: 'failed' }), 1);
  assert.is(value(metrics, 'webrtc_connection_stalls_total'), 2);
  assert.is((await server.json(`${WEBRTC}/connections`)).body.length, 0);
  const since = (e: Event, t: number) => Date.parse(e.recorded_at) - t;
  process.stdout.write(
    `  (stopped: stalled after ${since(stalled, stoppedAt)} ms; killed: stalled after ${since(stalledAgain, killedAt)} ms, failed after ${since(failed, killedAt)} ms; limits ${STALL_AFTER_MS}/${CONSENT_TIMEOUT_MS} ms)\n`,
  );
});

test.run();
