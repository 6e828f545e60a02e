// The in-process werift viewer gives up when its signal aborts at any step,
// even one already past when the abort came, and frees its sockets: a
// benchmark cancelled by shutdown once left a viewer's two UDP sockets open
// for the life of the process (an abort listener added to a signal that has
// already aborted never fires).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openViewer, type Exchange } from '../../src/webrtc/viewer.ts';
import { WEBRTC, startWebRtcServer, udpSocketCount, waitFor, type WebRtcTestServer } from '../helpers/webrtc.ts';

let server: WebRtcTestServer;

/** WHEP, as connectViewer does it, with a hook run once the answer is in. */
const whep = (whepUrl: string, afterAnswer: () => void): Exchange => async (offerSdp) => {
  const res = await fetch(whepUrl, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offerSdp });
  if (res.status !== 201) throw new Error(`WHEP POST answered ${res.status}`);
  const session = new URL(res.headers.get('location')!, whepUrl).toString();
  const answerSdp = await res.text();
  afterAnswer();
  return {
    answerSdp,
    connectionId: decodeURIComponent(session.split('/').pop()!),
    hangUp: async () => void (await (await fetch(session, { method: 'DELETE' })).arrayBuffer()),
  };
};

const Abort = suite('openViewer with an abort signal');
Abort.before(async () => {
  server = await startWebRtcServer();
});
Abort.after(() => server.stop());

Abort('rejects with the reason when the signal aborted during the exchange, tells the server, and closes its sockets', async () => {
  const stream = await server.stream({ mode: 'data', content: 'README.md', quality: 'low' });
  // One viewer first, so process-wide sockets (the loopback STUN responder) are in the baseline.
  const warm = await server.viewer(stream.whep_url, 'data');
  await warm.close();
  const baseline = udpSocketCount();
  const controller = new AbortController();
  const reason = new Error('given up');
  const opening = openViewer(whep(stream.whep_url, () => controller.abort(reason)), { expect: 'data', signal: controller.signal });
  const outcome = await opening.then(
    () => 'connected',
    (err: unknown) => err,
  );
  assert.is(outcome, reason, 'the viewer gave up with the signal\'s reason');
  await waitFor(async () => (await server.json(`${WEBRTC}/connections`)).body.length === 0, 10_000, 'the server to close its side');
  const sockets = await waitFor(() => (udpSocketCount() <= baseline ? udpSocketCount() : null), 10_000, `UDP sockets back at ${baseline}`).catch(() => udpSocketCount());
  assert.is(sockets, baseline, `UDP sockets: baseline ${baseline}, after ${sockets}`);
});

Abort('rejects at once when the signal has aborted before it starts', async () => {
  const controller = new AbortController();
  const reason = new Error('never mind');
  controller.abort(reason);
  const stream = await server.stream({ mode: 'data', content: 'README.md', quality: 'low' });
  let exchanged = false;
  const outcome = await openViewer(
    whep(stream.whep_url, () => (exchanged = true)),
    { expect: 'data', signal: controller.signal },
  ).then(
    () => 'connected',
    (err: unknown) => err,
  );
  assert.is(outcome, reason);
  assert.not.ok(exchanged, 'no offer was sent');
});

Abort.run();
