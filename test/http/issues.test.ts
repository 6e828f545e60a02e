import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { tempDir } from '../helpers/db.ts';
import { scrape, value } from '../helpers/metrics.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/webrtc.ts';
import { RULES_STREAM } from '../../src/detect/rulesHolder.ts';

const MONITOR = '/api/v0/mcp/monitor/webrtc';
const TOKEN = 'admin-token-for-tests';

async function withServer(rules: object, fn: (s: TestServer, rulesPath: string) => Promise<void>) {
  const { dir, cleanup } = tempDir();
  const rulesPath = join(dir, 'rules.json');
  writeFileSync(rulesPath, JSON.stringify(rules));
  const server = await startTestServer({ rulesPath, authToken: TOKEN });
  try {
    await fn(server, rulesPath);
  } finally {
    await server.stop();
    cleanup();
  }
}

const json = async (s: TestServer, path: string, init: Parameters<TestServer['api']>[1] = {}) => {
  const res = await s.api(path, { token: TOKEN, ...init });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as any };
};

async function stall(s: TestServer, id: string) {
  await s.services.store.append(`connection:${id}`, [
    { type: 'connection.created', data: { connection_id: id } },
    { type: 'connection.state_changed', data: { kind: 'connection', from: 'connecting', to: 'connected' } },
    { type: 'connection.stalled', data: { silent_ms: 1000, stall_after_ms: 1000, last_heard_ms: { stun: null, dtls: null, rtp: null, rtcp: null } } },
  ]);
}
const resume = (s: TestServer, id: string) => s.services.store.append(`connection:${id}`, [{ type: 'connection.resumed', data: { stalled_ms: 10, via: ['rtp'] } }]);

const Issues = suite('GET issues');

Issues('lists open issues by default, filters by status, severity and connection, and pages', async () => {
  await withServer({ tick_ms: 20, stalled: { hold_ms: 0, severity: 'critical' } }, async (s) => {
    await stall(s, 'a');
    await stall(s, 'b');
    await stall(s, 'c');
    await waitFor(async () => (await json(s, `${MONITOR}/issues`)).body.count === 3, 5000, 'three open issues');
    await resume(s, 'a');
    await waitFor(async () => (await json(s, `${MONITOR}/issues?status=resolved`)).body.count === 1, 5000, 'one resolved');

    const open = await json(s, `${MONITOR}/issues`);
    assert.equal(open.body.issues.map((i: any) => i.connection_id).sort(), ['b', 'c']);
    assert.ok(open.body.issues.every((i: any) => i.status === 'open' && i.type === 'stalled' && i.severity === 'critical'));
    assert.is((await json(s, `${MONITOR}/issues?status=all`)).body.count, 3);
    assert.is((await json(s, `${MONITOR}/issues?severity=warning`)).body.count, 0);
    assert.is((await json(s, `${MONITOR}/issues?status=all&connection_id=a`)).body.issues[0].status, 'resolved');

    const first = await json(s, `${MONITOR}/issues?status=all&limit=2`);
    assert.is(first.body.count, 2);
    const second = await json(s, `${MONITOR}/issues?status=all&limit=2&cursor=${first.body.next_cursor}`);
    assert.is(second.body.count, 1);
    assert.is(second.body.next_cursor, null);

    const bad = await s.api(`${MONITOR}/issues?status=closed`);
    assert.is(bad.status, 400);
    assert.match(bad.headers.get('content-type') ?? '', /problem\+json/);

    const one = await json(s, `${MONITOR}/issues/${open.body.issues[0].id}`);
    assert.equal(one.body.events.map((e: any) => e.type), ['issue.raised']);
    assert.is((await s.api(`${MONITOR}/issues/nope`)).status, 404);
  });
});

Issues("a connection's detail lists its issues and their events in its timeline", async () => {
  await withServer({ tick_ms: 20, stalled: { hold_ms: 0 } }, async (s) => {
    await stall(s, 'a');
    await resume(s, 'a');
    await waitFor(async () => (await json(s, `${MONITOR}/issues?status=resolved`)).body.count === 1, 5000, 'resolved');
    const detail = await json(s, `${MONITOR}/connections/a`);
    assert.is(detail.body.issues.length, 1);
    assert.is(detail.body.issues[0].type, 'stalled');
    assert.equal(detail.body.timeline.issue_events.map((e: any) => e.type), ['issue.raised', 'issue.resolved']);
  });
});

const Metrics = suite('issue metrics');

Metrics('webrtc_issues_open by type and severity, and webrtc_issues_raised_total', async () => {
  await withServer({ tick_ms: 20, stalled: { hold_ms: 0 } }, async (s) => {
    let m = await scrape(s);
    assert.is(value(m, 'webrtc_issues_open', { type: 'stalled', severity: 'warning' }), 0);
    assert.is(value(m, 'webrtc_issues_raised_total'), 0);
    await stall(s, 'a');
    await waitFor(async () => value(await scrape(s), 'webrtc_issues_open', { type: 'stalled', severity: 'warning' }) === 1, 5000, 'open gauge');
    await resume(s, 'a');
    await waitFor(async () => value(await scrape(s), 'webrtc_issues_open', { type: 'stalled', severity: 'warning' }) === 0, 5000, 'gauge back to 0');
    m = await scrape(s);
    assert.is(value(m, 'webrtc_issues_raised_total'), 1);
  });
});

const Feed = suite('issue events in the SSE feed');

Feed('the live feed carries issue.raised and issue.resolved', async () => {
  await withServer({ tick_ms: 20, stalled: { hold_ms: 0 } }, async (s) => {
    const sse = await openSse(`${s.url}${MONITOR}/events/stream?kind=issue`, { authorization: `Bearer ${TOKEN}` });
    try {
      await stall(s, 'a');
      await resume(s, 'a');
      await sse.waitForEvents(2, 5000);
      assert.equal(sse.events().map((e) => e.type), ['issue.raised', 'issue.resolved']);
    } finally {
      sse.close();
    }
  });
});

const Reload = suite('rules reload');

Reload('the admin route takes a good file and refuses a bad one, keeping the rules in force; SIGHUP reloads too', async () => {
  await withServer({ high_rtt: { threshold: 300 } }, async (s, rulesPath) => {
    assert.is((await json(s, `${MONITOR}/rules`)).body.rules.high_rtt.threshold, 300);
    writeFileSync(rulesPath, JSON.stringify({ high_rtt: { threshold: 200 } }));
    assert.is((await s.api(`${MONITOR}/rules/reload`, { method: 'POST' })).status, 401, 'admin only');
    const good = await json(s, `${MONITOR}/rules/reload`, { method: 'POST' });
    assert.is(good.status, 200);
    assert.is(good.body.rules.high_rtt.threshold, 200);

    writeFileSync(rulesPath, JSON.stringify({ high_rtt: { threshold: 200, windw_ms: 5 } }));
    const bad = await json(s, `${MONITOR}/rules/reload`, { method: 'POST' });
    assert.is(bad.status, 422);
    assert.match(bad.type ?? '', /problem\+json/);
    assert.is(bad.body.code, 'RULES_INVALID');
    assert.match(bad.body.detail, /windw_ms/);
    assert.is((await json(s, `${MONITOR}/rules`)).body.rules.high_rtt.threshold, 200, 'the rules in force stay');

    writeFileSync(rulesPath, JSON.stringify({ high_rtt: { threshold: 150 } }));
    process.kill(process.pid, 'SIGHUP');
    await waitFor(async () => (await json(s, `${MONITOR}/rules`)).body.rules.high_rtt.threshold === 150, 5000, 'SIGHUP reload');

    const outcomes = (await s.services.store.readStream(RULES_STREAM)).map((e) => e.type === 'rules.reloaded' && `${e.data.trigger}:${e.data.ok}`);
    assert.equal(outcomes, ['start:true', 'admin:true', 'admin:false', 'signal:true']);
  });
});

Reload('a bad rules file at start stops the start with a message naming the field', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rulesPath = join(dir, 'rules.json');
    writeFileSync(rulesPath, JSON.stringify({ stalled: { severity: 'dire' } }));
    const err = await startTestServer({ rulesPath }, { keepDir: dir }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err, 'the start was refused');
    assert.is(err.code, 'RULES_INVALID');
    assert.match(err.message, /stalled\.severity/);
  } finally {
    cleanup();
  }
});

Issues.run();
Metrics.run();
Feed.run();
Reload.run();
