// Figure 10: viewer telemetry. A real server (in this process) takes
// rtcstats getstats entries from reporting viewers (another process,
// bench/telemetry-clients.ts) over the WebSocket: entries per second from the
// first sent to the last committed, and how many viewers sampling once a
// second that sustains. Anchor, in the same run and process: the server's
// own recording of its stats samples (`connection.stats_sampled` with two
// tracks, appended by as many producers).
import { join } from 'node:path';
import pino from 'pino';
import { makeConfig } from '../src/config.ts';
import { startServer } from '../src/http/serve.ts';
import { RTCSTATS_PATH } from '../src/http/rtcstatsSocket.ts';
import { nodeTs, spawnUntil, stop } from './child.ts';
import type { Figure } from './report.ts';
import { dbOf } from '../test/helpers/db.ts';

const count = (db: { prepare(sql: string): { pluck(): { get(...a: unknown[]): unknown } } }, type: string) =>
  db.prepare('SELECT count(*) FROM events WHERE type = ?').pluck().get(type) as number;

export async function telemetryFigures(scratch: string, viewers: number, entriesPerViewer: number): Promise<Figure[]> {
  const config = makeConfig({
    port: 0,
    persistencePath: join(scratch, 'telemetry.db'),
    logLevel: 'silent',
    telemetryMessagesPerSecond: 1_000_000,
    telemetryBurst: 1_000_000,
    telemetryMaxSessions: Math.max(500, viewers),
  });
  const server = await startServer(config, { logger: pino({ level: 'silent' }) });
  const { store: log } = server.services;
  const db = dbOf(server.services.store);
  try {
    // The anchor: the server's own stats samples, appended by `viewers` producers, one per turn each.
    const sample = {
      bytes_sent: 1e6, bytes_received: 1e4, packets_sent: 900, packets_received: 40, packets_lost: 2, fraction_lost: 0, rtt_ms: 1.5, jitter_ms: 2,
      frames_sent: 300, keyframes_sent: 2, nack_count: 1, pli_count: 0, fir_count: 0, retransmitted_packets_sent: 1, bitrate_out_bps: 1.2e6, bitrate_in_bps: 8e3, interval_ms: 1000,
      tracks: [1, 2].map((ssrc) => ({
        ssrc, kind: ssrc === 1 ? 'video' : 'audio', mid: String(ssrc - 1), codec: 'video/VP8', packets_sent: 450, bytes_sent: 5e5, bitrate_bps: 6e5,
        packets_lost: 1, fraction_lost: 0, jitter_ms: 2, rtt_ms: 1.5, receiver_reports: 10, nack_count: 1, pli_count: 0, fir_count: 0,
        retransmitted_packets_sent: 1, retransmitted_bytes_sent: 1200, frames_sent: 150, keyframes_sent: 1,
      })),
    };
    const serverTotal = viewers * entriesPerViewer;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: viewers }, async (_, i) => {
        for (let n = 0; n < entriesPerViewer; n++) await log.append(`connection:bench-${i}`, [{ type: 'connection.stats_sampled', data: sample }]);
      }),
    );
    const serverRate = serverTotal / ((performance.now() - t0) / 1000);

    const url = server.url.replace('http', 'ws') + RTCSTATS_PATH;
    const total = viewers * entriesPerViewer;
    const before = count(db, 'client.stats_sampled');
    const [node, args] = nodeTs('bench/telemetry-clients.ts', [url, String(viewers), String(entriesPerViewer)]);
    const { child } = await spawnUntil(node, args, /ready/, { timeoutMs: 300_000 });
    const t1 = performance.now();
    try {
      while (count(db, 'client.stats_sampled') - before < total) await new Promise((r) => setTimeout(r, 20));
      const ingestRate = total / ((performance.now() - t1) / 1000);
      return [
        {
          id: 'telemetry.entries_per_s',
          group: 11,
          label: `rtcstats ingest (${viewers} viewers over the WebSocket, getstats entries recorded)`,
          value: ingestRate,
          unit: 'entries/s',
          anchor: { label: 'the server recording its own stats samples (same process, same run)', value: serverRate },
          ratio: ingestRate / serverRate,
          note:
            `${total.toLocaleString('en-US')} delta-compressed Chrome-shaped reports (video + audio receiver) decompressed, sampled and appended; ` +
            `at 1 s sampling one process sustains about ${Math.floor(ingestRate).toLocaleString('en-US')} concurrent reporting viewers (one entry per viewer per second, traces aside)`,
        },
      ];
    } finally {
      await stop(child);
    }
  } finally {
    await server.close();
  }
}
