// A werift viewer in its own process, for tests that kill it: connects to the
// WHEP URL given as argv[2] (mode argv[3], default media), prints the
// connection id as one JSON line once connected, then waits to be killed.
import { connectViewer } from '../../src/webrtc/viewer.ts';

const [whepUrl, mode = 'media'] = process.argv.slice(2);
const viewer = await connectViewer(whepUrl, { expect: mode as 'media' | 'data', token: process.env.VIEWER_TOKEN ?? null });
process.stdout.write(`${JSON.stringify({ connection_id: viewer.connectionId, setup_ms: viewer.setupMs })}\n`);
setInterval(() => {}, 1 << 30);
