// Running out of file descriptors, for real: a server under a low `ulimit -n`
// in a child process. Under the common limit of 1,024 a server crashed at
// ~330 peers: each peer binds a UDP socket per host address, and when
// werift's bind failed with EMFILE its unhandled 'error' event ended the
// process. Now the peer cap derives from the limit, and past it (an operator
// who raised --max-peers) a failed bind is a clean 503.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { startCliServer } from '../helpers/cli.ts';
import { tempDir } from '../helpers/db.ts';
import { CONTENT_DIR, WEBRTC, MONITOR, offerSdp } from '../helpers/webrtc.ts';
import { BASE_FDS } from '../../src/webrtc/admission.ts';

const NOFILE = 200;

/** One keep-alive connection for every request: near the limit, a new connection may not be accepted. */
function client(base: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const url = new URL(base);
  return {
    agent,
    send(method: string, path: string, body?: string, type = 'application/sdp') {
      return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
        const req = request(
          { agent, host: url.hostname, port: url.port, method, path, headers: body === undefined ? {} : { 'content-type': type, 'content-length': Buffer.byteLength(body) } },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
  };
}

const Emfile = suite(`peers under ulimit -n ${NOFILE}`);
let offer = '';
Emfile.before(async () => {
  offer = await offerSdp('media');
});

Emfile('admits what the limit allows: N + 5 concurrent offers give N answers and 5 clean 503s, and the server lives on', async () => {
  const { dir, cleanup } = tempDir('wrm-emfile-');
  const server = startCliServer(['--port', '0', '--persistence-path', join(dir, 'monitor.db'), '--content-dir', CONTENT_DIR], { nofile: NOFILE });
  try {
    const http = client(await server.url);
    const stream = JSON.parse((await http.send('POST', `${WEBRTC}/stream`, JSON.stringify({ content: 'sample.webm' }), 'application/json')).body);
    const resources = JSON.parse((await http.send('GET', `${WEBRTC}/stats/resources`)).body).webrtc;
    assert.is(resources.open_file_limit, NOFILE);
    const cap = resources.max_peers as number;
    assert.ok(cap >= 5 && cap * resources.fds_per_peer + BASE_FDS <= NOFILE, `cap ${cap} with ${resources.fds_per_peer} descriptors each`);
    const whep = `${WEBRTC}/whep/${stream.server_id}`;
    const answers = await Promise.all(Array.from({ length: cap + 5 }, () => http.send('POST', whep, offer)));
    const statuses = answers.map((a) => a.status);
    assert.is(statuses.filter((s) => s === 201).length, cap, statuses.join());
    const refused = answers.filter((a) => a.status === 503);
    assert.is(refused.length, 5, statuses.join());
    for (const r of refused) {
      assert.ok(Number(r.headers['retry-after']) > 0);
      assert.is(JSON.parse(r.body).code, 'UNAVAILABLE');
    }
    assert.is((await http.send('GET', `${MONITOR}/summary`)).status, 200);
    http.agent.destroy();
    assert.is(await server.stop(), 0, server.output().stderr);
  } finally {
    server.child.kill('SIGKILL');
    cleanup();
  }
});

Emfile('past a cap raised above the limit, a failed bind (EMFILE) is a 503, never a crash, and peers are taken again once some close', async () => {
  const { dir, cleanup } = tempDir('wrm-emfile-');
  const server = startCliServer(['--port', '0', '--persistence-path', join(dir, 'monitor.db'), '--content-dir', CONTENT_DIR, '--max-peers', '1000'], { nofile: NOFILE });
  try {
    const http = client(await server.url);
    const stream = JSON.parse((await http.send('POST', `${WEBRTC}/stream`, JSON.stringify({ content: 'sample.webm' }), 'application/json')).body);
    const whep = `${WEBRTC}/whep/${stream.server_id}`;
    const statuses: number[] = [];
    let exhausted: { status: number; body: string } | null = null;
    // One at a time, as far as the descriptors go (NOFILE / sockets per peer is the most there can be).
    for (let i = 0; i < NOFILE && !exhausted; i++) {
      const r = await http.send('POST', whep, offer);
      statuses.push(r.status);
      if (r.status !== 201) exhausted = r;
    }
    assert.ok(exhausted, `no refusal in ${statuses.length} offers`);
    assert.is(exhausted!.status, 503, exhausted!.body);
    const problem = JSON.parse(exhausted!.body);
    assert.is(problem.code, 'UNAVAILABLE');
    assert.match(problem.detail, /file descriptors/);
    assert.is(server.child.exitCode, null, `the server exited: ${server.output().stderr}`);
    assert.is((await http.send('GET', `${MONITOR}/summary`)).status, 200, 'still answering');
    const metrics = (await http.send('GET', '/metrics')).body;
    assert.match(metrics, /^webrtc_resource_exhaustions_total [1-9]/m);
    // Descriptors come back as peers close; then offers are answered again.
    assert.is((await http.send('POST', `${WEBRTC}/connections/close-all`)).status, 200);
    const again = await http.send('POST', whep, offer);
    assert.is(again.status, 201, again.body);
    http.agent.destroy();
    assert.is(await server.stop(), 0, server.output().stderr);
  } finally {
    server.child.kill('SIGKILL');
    cleanup();
  }
});

Emfile.run();
