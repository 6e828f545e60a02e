// aiortc (Debian's python3-aiortc 1.4) as a viewer nobody here wrote:
// test/interop/webrtc/aiortc_viewer.py connects through WHEP, receives media or a
// data-channel file transfer, hangs up with DELETE and prints what it saw.
// Asserted: the Python side's result and what the monitor recorded.
//
// docs/werift.md names two aiortc 1.4 hazards; measured against this server:
// - per-section ICE credentials: a full-ICE werift peer without
//   unifyBundleCredentials left aiortc in `checking` until the timeout, and
//   connected with it. The server peers are ICE-lite (they send no checks, so
//   the remote credentials are never used) and aiortc connects either way; the
//   last suite checks the unification on aiortc's real offer.
// - data sent before werift's DCEP ACK: the data source's first send follows
//   an awaited file open (and a setImmediate), and aiortc 1.4.0 here even took a
//   synchronous send from the open handler; the first message must be `begin`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { unifyBundleCredentials } from '../../../src/webrtc/sdpFixes.ts';
import { CONTENT_DIR, MONITOR, startWebRtcServer, type WebRtcTestServer } from '../../helpers/webrtc.ts';
import { requireAiortc } from '../../helpers/prerequisites.ts';
import { waitFor } from '../../helpers/webrtc.ts';
import type { TrackSample } from '../../../src/log/catalogue.ts';
import { dbOf } from '../../helpers/db.ts';

/** Debian's Python: the only one that sees python3-aiortc (a pyenv python on the PATH would not). */
const PYTHON = requireAiortc();
const VIEWER = resolve(import.meta.dirname, 'aiortc_viewer.py');
const SAMPLE_SHA256 = createHash('sha256').update(readFileSync(join(CONTENT_DIR, 'sample.webm'))).digest('hex');

type AiortcResult = {
  ok: boolean;
  error?: string;
  aiortc: string;
  mode: 'media' | 'data';
  offer: string;
  offer_sections: number;
  offer_distinct_ice_credentials: boolean;
  offer_candidates: number;
  whep_status: number;
  connection_id: string;
  connected_ms: number;
  video_frames?: number;
  audio_frames?: number;
  width?: number;
  height?: number;
  channel_states?: string[];
  data?: { first_message: string; messages: number; passes: { pass: number; bytes: number; sha256: string; server_sha256: string; verified: boolean }[] };
  delete_status: number;
  states: string[];
  elapsed_ms: number;
};

/**
 * Runs the Python viewer to the end and returns its JSON line; a crash or a
 * hang fails with its stderr. With `whilePlaying`, the viewer holds the
 * session once its goal is met until that callback settles.
 */
function runAiortc(whepUrl: string, mode: 'media' | 'data', options: { token?: string; whilePlaying?: (connectionId: string) => Promise<unknown> } = {}): Promise<AiortcResult> {
  const { token, whilePlaying } = options;
  const args = [VIEWER, whepUrl, mode, '--timeout', '15', ...(token ? ['--token', token] : []), ...(whilePlaying ? ['--hold'] : [])];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, args, { stdio: [whilePlaying ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let held: Promise<unknown> | null = null;
    let heldError: unknown = null;
    child.stdout!.on('data', (d) => {
      stdout += d;
      const playing = /^\{"playing": "([^"]+)"\}$/m.exec(stdout);
      if (playing && whilePlaying && !held) {
        held = whilePlaying(playing[1])
          .catch((err) => (heldError = err))
          .finally(() => child.stdin!.end('bye\n'));
      }
    });
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', (err) => {
      clearTimeout(killer);
      reject(err);
    });
    child.on('close', async (code, signal) => {
      clearTimeout(killer);
      await held;
      if (heldError) return reject(heldError);
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolvePromise(JSON.parse(line));
      } catch {
        reject(new Error(`aiortc viewer exited ${code ?? signal} without a result\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr}`));
      }
    });
  });
}

let server: WebRtcTestServer;
/** aiortc's real media offer, kept from the first run for the SDP suite below. */
let aiortcOffer: string | null = null;
const connection = async (id: string) => (await server.json(`${MONITOR}/connections/${id}?events_limit=1000`)).body;
type Event = { type: string; data: Record<string, unknown> };
const connectionStates = (events: Event[]) =>
  events.filter((e) => e.type === 'connection.state_changed' && e.data.kind === 'connection').map((e) => e.data.to);
const lean = (r: AiortcResult) => JSON.stringify({ ...r, offer: undefined });

const viewer = suite('an aiortc viewer through WHEP');
viewer.before(async () => {
  server = await startWebRtcServer({ statsIntervalMs: 250 });
});
viewer.after(() => server.stop());

viewer('receives the clip as decoded VP8 video and Opus audio, and the monitor records its connection from created to a remote close', async () => {
  const stream = await server.stream({ content: 'sample.webm', mode: 'media' });
  // Hold the session until aiortc's receiver reports have given every track
  // its jitter and loss, and an RTT that changed between samples.
  let tracks: TrackSample[] = [];
  const r = await runAiortc(stream.whep_url, 'media', {
    whilePlaying: (id) =>
      waitFor(async () => {
        const events = (await connection(id)).timeline.events as { type: string; data: { tracks?: TrackSample[] } }[];
        const samples = events.filter((e) => e.type === 'connection.stats_sampled').map((e) => e.data.tracks ?? []);
        const last = samples.at(-1) ?? [];
        const rtts = (kind: string) => new Set(samples.map((s) => s.find((t) => t.kind === kind)?.rtt_ms).filter((v) => typeof v === 'number'));
        const ready = last.length === 2 && last.every((t) => t.jitter_ms !== null && t.fraction_lost !== null && t.rtt_ms !== null);
        return ready && (rtts('video').size >= 2 || rtts('audio').size >= 2) ? (tracks = last) : null;
      }, 15_000, "per-track jitter, loss and a changing RTT from aiortc's reports"),
  });
  aiortcOffer = r.offer ?? null;
  assert.ok(r.ok, lean(r));
  assert.match(r.aiortc, /^1\./);
  assert.ok(r.video_frames! >= 30 && r.audio_frames! >= 50, lean(r));
  assert.equal([r.width, r.height], [320, 240]);
  assert.is(r.delete_status, 204);
  assert.equal(r.states, ['connecting', 'connected', 'closed']);
  // aiortc offered a candidate in the SDP (no trickle), and bundled sections with their own credentials.
  assert.ok(r.offer_candidates > 0);
  assert.is(r.offer_sections, 2);
  assert.ok(r.offer_distinct_ice_credentials, 'aiortc 1.4 gives each bundled section its own ufrag/pwd');

  const body = await connection(r.connection_id);
  const c = body.connection;
  assert.is(c.category, 'closed');
  assert.equal(c.close, { reason: 'whep_delete', initiator: 'remote' });
  assert.match(c.user_agent, /^aiortc\/1\./);
  assert.ok(c.candidates.remote > 0, 'candidates from the offer were recorded');
  assert.ok(c.selected_pair?.local && c.selected_pair?.remote);
  assert.equal(c.tracks.map((t: { codec: string }) => t.codec.toLowerCase()).sort(), ['audio/opus', 'video/vp8']);
  assert.ok(c.stats_samples > 0 && c.latest_stats.bytes_sent > 0 && c.latest_stats.frames_sent > 0, JSON.stringify(c.latest_stats));
  const events: Event[] = body.timeline.events;
  assert.is(events[0].type, 'connection.created');
  assert.is(events[events.length - 1].type, 'connection.closed');
  assert.equal(connectionStates(events), ['connecting', 'connected', 'closed']);
  assert.is(c.error_count, 0, JSON.stringify(c.errors));
  assert.equal(tracks.map((t) => t.kind).sort(), ['audio', 'video']);
  for (const t of tracks) assert.ok(t.receiver_reports > 0 && t.jitter_ms! >= 0 && t.fraction_lost! >= 0 && t.rtt_ms! >= 0, JSON.stringify(t));
  assert.is(c.outcome, 'clean');
  const flat = dbOf(server.services).prepare('SELECT count(*) FROM stats_samples WHERE connection_id = ? AND jitter_ms IS NOT NULL AND fraction_lost IS NOT NULL').pluck().get(r.connection_id) as number;
  assert.ok(flat > 0, 'stats_samples.jitter_ms and fraction_lost are filled for aiortc');
  process.stdout.write(`  (aiortc media: connected in ${r.connected_ms} ms, ${r.video_frames} video / ${r.audio_frames} audio frames, whole run ${r.elapsed_ms} ms)\n`);
});

viewer("receives the data-channel file transfer and verifies its SHA-256; the monitor records the channel, the bytes and the hash", async () => {
  const stream = await server.stream({ content: 'sample.webm', mode: 'data' });
  const r = await runAiortc(stream.whep_url, 'data');
  assert.ok(r.ok, lean(r));
  const [first] = r.data!.passes;
  assert.ok(first.verified, JSON.stringify(first));
  assert.is(first.pass, 1);
  assert.is(first.sha256, SAMPLE_SHA256);
  assert.is(first.server_sha256, SAMPLE_SHA256);
  assert.is(first.bytes, readFileSync(join(CONTENT_DIR, 'sample.webm')).length);
  // Nothing before the first pass was lost, and the transport survived the first send.
  assert.is(r.data!.first_message, 'begin');
  assert.equal(r.channel_states, ['open', 'closed']);
  assert.is(r.delete_status, 204);

  const body = await connection(r.connection_id);
  const c = body.connection;
  assert.is(c.category, 'closed');
  assert.equal(c.close, { reason: 'whep_delete', initiator: 'remote' });
  assert.is(c.mode, 'data');
  assert.is(c.data_channels.length, 1);
  const channel = c.data_channels[0];
  assert.is(channel.label, 'data');
  assert.ok(channel.closed_at, 'the channel close was recorded');
  assert.ok(channel.bytes_sent >= first.bytes, `bytes_sent ${channel.bytes_sent}`);
  assert.is(channel.sha256, SAMPLE_SHA256);
  const types = (body.timeline.events as Event[]).map((e) => e.type);
  assert.ok(types.indexOf('connection.datachannel_opened') < types.indexOf('connection.datachannel_closed'));
  assert.is(c.error_count, 0, JSON.stringify(c.errors));
  process.stdout.write(`  (aiortc data: ${first.bytes} bytes verified, connected in ${r.connected_ms} ms, whole run ${r.elapsed_ms} ms)\n`);
});
viewer.run();

const sdp = suite('unifyBundleCredentials on a real aiortc offer');
sdp("gives every bundled section the first section's credentials and keeps candidates in the first only", () => {
  assert.ok(aiortcOffer, 'the media run above captured aiortc\'s offer');
  const fixed = unifyBundleCredentials(aiortcOffer!);
  assert.is.not(fixed, aiortcOffer);
  const sections = fixed.split(/\r?\n(?=m=)/).slice(1);
  assert.is(sections.length, 2);
  const creds = sections.map((s) => `${/a=ice-ufrag:(\S+)/.exec(s)![1]} ${/a=ice-pwd:(\S+)/.exec(s)![1]}`);
  assert.is(new Set(creds).size, 1);
  assert.ok(/a=candidate:/.test(sections[0]));
  assert.not.ok(/a=candidate:/.test(sections[1]));
});
sdp.run();
