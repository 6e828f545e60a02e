// `serve --run-tests`: the running server tested over HTTP by itself, with a
// real werift viewer on the other side. Several rounds of: start a stream,
// connect through WHEP, see the monitor report it connected with bytes
// flowing, close it through the controller, see it closed in the monitor
// and in its recorded events (the connection's timeline); then the
// async-close test route; then check the summary adds up. Prints one line per
// check and a verdict. It is a client of the whole server, over HTTP only.
import { connectViewer, type Viewer } from './webrtc/viewer.ts';

const MONITOR = '/api/v0/mcp/monitor/webrtc';
const WEBRTC = '/api/v0/mcp/webrtc';
const ROUNDS: { mode: 'media' | 'data'; content: string }[] = [
  { mode: 'media', content: 'sample.webm' },
  { mode: 'data', content: 'sample.webm' },
  { mode: 'media', content: 'sample.webm' },
];

type Check = { name: string; ok: boolean; detail: string };

export async function runSelfTests(url: string, options: { token: string | null }): Promise<boolean> {
  const checks: Check[] = [];
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const check = (name: string, ok: boolean, detail = '') => {
    checks.push({ name, ok, detail });
    out(`${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? `  (${detail})` : ''}`);
    return ok;
  };
  const api = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    const headers: Record<string, string> = {};
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const res = await fetch(url + path, { method: init.method ?? 'GET', headers, body: init.json !== undefined ? JSON.stringify(init.json) : undefined });
    const text = await res.text();
    let body: any = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    return { status: res.status, body, headers: res.headers };
  };

  /** The types of every event of a connection's stream, in order, page by page of its timeline. */
  const timelineTypes = async (id: string): Promise<string[]> => {
    const types: string[] = [];
    let after = 0;
    for (;;) {
      const r = await api(`${MONITOR}/connections/${encodeURIComponent(id)}?events_limit=1000&events_after=${after}`);
      if (r.status !== 200) throw new Error(`GET connections/${id} answered ${r.status}`);
      const events: { type: string; version: number }[] = r.body.timeline.events;
      types.push(...events.map((e) => e.type));
      if (r.body.timeline.next_after === null) return types;
      after = r.body.timeline.next_after;
    }
  };

  out(`run-tests: ${url}`);
  const setups: number[] = [];
  for (const [i, round] of ROUNDS.entries()) {
    const label = `round ${i + 1} (${round.mode})`;
    let viewer: Viewer | null = null;
    try {
      const stream = await api(`${WEBRTC}/stream`, { method: 'POST', json: { content: round.content, mode: round.mode } });
      if (!check(`${label}: POST stream`, stream.status === 200 && typeof stream.body?.whep_url === 'string', `HTTP ${stream.status}`)) continue;
      const serverId: string = stream.body.server_id;

      viewer = await connectViewer(stream.body.whep_url, { token: options.token, expect: round.mode });
      setups.push(viewer.setupMs);
      check(`${label}: viewer connected through WHEP`, viewer.connectionState === 'connected', `${viewer.setupMs} ms offer to connected`);
      const id = viewer.connectionId;

      const live = await poll(async () => {
        const r = await api(`${MONITOR}/connections/${id}`);
        const c = r.body?.connection;
        const flowing = c?.category === 'connected' && (c.latest_stats?.bytes_sent ?? 0) > 0;
        return flowing ? c : null;
      }, 8000);
      check(
        `${label}: monitor shows it connected with bytes flowing`,
        live !== null && ['connected', 'completed'].includes(live.ice_connection_state),
        live ? `ice ${live.ice_connection_state}, ${live.latest_stats.bytes_sent} bytes sent` : 'not within 8 s',
      );
      const received = await poll(async () => (round.mode === 'media' ? (viewer!.frames > 0 ? viewer!.frames : null) : viewer!.sha256Verified ? viewer!.dataBytes : null), 8000);
      check(
        `${label}: viewer received the content`,
        received !== null,
        round.mode === 'media' ? `${viewer.frames} video frames, ${viewer.packets} RTP packets` : `${viewer.dataBytes} bytes, SHA-256 verified ${viewer.passes}x`,
      );

      const close = await api(`${WEBRTC}/connections/${id}/close`, { method: 'POST' });
      check(`${label}: close through the controller`, close.status === 200 && close.body?.closed === true, `HTTP ${close.status}`);
      const closed = await api(`${MONITOR}/connections/${id}`);
      const c = closed.body?.connection;
      check(`${label}: monitor shows it closed (local)`, c?.category === 'closed' && c?.close?.initiator === 'local', `${c?.category} ${c?.close?.initiator ?? ''}`);
      const types = await timelineTypes(id);
      const needed = ['connection.created', 'connection.state_changed', 'connection.stats_sampled', 'connection.closed'];
      check(
        `${label}: the log holds the lifecycle`,
        needed.every((t) => types.includes(t)) && types[0] === 'connection.created' && types[types.length - 1] === 'connection.closed',
        `${types.length} events`,
      );
      const stop = await api(`${WEBRTC}/stream/stop/${serverId}`, { method: 'POST' });
      check(`${label}: stop stream`, stop.status === 200 && stop.body?.closed === 0, `HTTP ${stop.status}, closed ${stop.body?.closed}`);
    } catch (err) {
      check(`${label}`, false, (err as Error).message);
    } finally {
      await viewer?.leave().catch(() => {});
    }
  }

  try {
    const started = await api(`${MONITOR}/test/async_close`, { method: 'POST' });
    if (check('async close: answered 202 with an operation', started.status === 202 && !!started.body?.location, `HTTP ${started.status}`)) {
      const op = await poll(async () => {
        const r = await api(started.body.location);
        return r.body?.operation?.status && r.body.operation.status !== 'running' ? r.body.operation : null;
      }, 8000);
      check('async close: the operation completed with a real close', op?.status === 'completed' && op?.result?.closed === true, op ? `${op.status} in ${op.duration_ms} ms` : 'still running');
      const conn = await api(`${MONITOR}/connections/${started.body.connection_id}`);
      check('async close: the connection is closed in the monitor', conn.body?.connection?.category === 'closed', conn.body?.connection?.close?.reason ?? '');
    }
  } catch (err) {
    check('async close', false, (err as Error).message);
  }

  try {
    const summary = await poll(async () => {
      const r = await api(`${MONITOR}/summary`);
      return r.body?.pending_tasks === 0 ? r.body : null;
    }, 5000);
    const cs = summary?.connection_states;
    const os = summary?.operation_stats;
    const connSum = cs ? cs.connected + cs.disconnected + cs.new + cs.connecting + cs.closed + cs.failed : -1;
    const opSum = os ? os.started + os.completed + os.failed + os.canceled : -1;
    check('summary: connection states add up', !!cs && connSum === cs.total && cs.total >= ROUNDS.length + 1, `${cs?.total} connections`);
    check('summary: operations add up, none failed', !!os && opSum === os.total && os.failed === 0, `${os?.total} operations`);
    check('summary: no pending tasks', summary?.pending_tasks === 0, `${summary?.pending_tasks ?? '?'} pending`);
    const live = await api(`${WEBRTC}/connections`);
    check('no live connections left', Array.isArray(live.body) && live.body.length === 0, `${live.body?.length} live`);
  } catch (err) {
    check('summary', false, (err as Error).message);
  }

  const failed = checks.filter((c) => !c.ok).length;
  const sorted = [...setups].sort((a, b) => a - b);
  out(
    `run-tests: ${checks.length - failed}/${checks.length} checks passed` +
      (sorted.length ? `; set-up median ${sorted[Math.floor(sorted.length / 2)]} ms` : '') +
      ` — ${failed === 0 ? 'OK' : 'FAILED'}`,
  );
  return failed === 0;
}

async function poll<T>(probe: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > until) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
}
