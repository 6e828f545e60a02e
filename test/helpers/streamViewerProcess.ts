// A werift viewer in its own process (for tests that run it somewhere the
// test process cannot be, such as a network namespace): starts a stream on
// the monitor at argv[2] (its base URL), connects to it over WHEP, prints
// {connection_id, setup_ms} as one JSON line once connected, then plays
// until killed.
import { connectViewer } from '../../src/webrtc/viewer.ts';

const [base] = process.argv.slice(2);
const made = await fetch(`${base}/api/v0/mcp/webrtc/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'sample.webm' }) });
if (made.status !== 200) throw new Error(`POST stream answered ${made.status}: ${await made.text()}`);
const { whep_url: whepUrl } = (await made.json()) as { whep_url: string };
const viewer = await connectViewer(whepUrl, { expect: 'media', timeoutMs: 30_000 });
process.stdout.write(`${JSON.stringify({ connection_id: viewer.connectionId, setup_ms: viewer.setupMs })}\n`);
setInterval(() => {}, 1 << 30);
