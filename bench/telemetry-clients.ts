// The reporting viewers of figure 10, in their own process so their JSON and
// WebSocket framing do not share the measured server's event loop:
//   telemetry-clients.ts <ws url> <viewers> <entries per viewer>
// Each viewer speaks the rtcstats protocol as @jitsi/rtcstats does: waits
// for the server's `sn initial`, creates one peer connection, then sends
// getstats entries delta-compressed against the previous one (rtcstats.js
// deltaCompression), a Chrome-shaped video+audio receiver report, as fast as
// the socket drains. Prints `ready` once every viewer is connected, `sent <n>` when every entry is written.
import WebSocket from 'ws';
import { chromeLikeReport, deltaCompression } from './telemetry-report.ts';

const [url, viewersText, entriesText] = process.argv.slice(2);
const viewers = Number(viewersText);
const entries = Number(entriesText);

async function connect(i: number): Promise<WebSocket> {
  const ws = new WebSocket(`${url}/bench?statsSessionId=bench-${process.pid}-${i}`, '3.1_STANDARD');
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

async function viewer(ws: WebSocket, i: number): Promise<number> {
  let seq = 1;
  const send = (data: unknown[]) => ws.send(JSON.stringify({ statsSessionId: `bench-${process.pid}-${i}`, type: 'stats-entry', data: JSON.stringify([...data, Date.now(), seq++]) }));
  send(['create', 'PC_0', { iceServers: [] }]);
  let prev = {};
  for (let n = 0; n < entries; n++) {
    const now = chromeLikeReport(n);
    send(['getstats', 'PC_0', deltaCompression(prev, now)]);
    prev = now;
    // Backpressure: let the socket drain rather than queue everything in memory.
    while (ws.bufferedAmount > 256 * 1024) await new Promise((r) => setTimeout(r, 1));
    if (n % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  return entries;
}

const sockets = await Promise.all(Array.from({ length: viewers }, (_, i) => connect(i)));
// Every viewer is connected: the measured part starts here.
process.stdout.write('ready\n');
const sent = (await Promise.all(sockets.map((ws, i) => viewer(ws, i)))).reduce((a, b) => a + b, 0);
process.stdout.write(`sent ${sent}\n`);
// Stay connected until told to stop, so the sessions end as they would.
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30);
