// Both ends of one connection: the server's connection model beside the
// viewer traces joined to it (client streams with a `client.correlated`
// naming it), each folded to the same point of the log, so time travel
// (`?at=`) holds across both. The log's position is the one order.
import type { EventRow, EventStore } from '../log/store.ts';
import type { ConnectionModel } from './connection.ts';
import { foldViewer, type ViewerModel } from './viewer.ts';

/** How many events one viewer folds at most (an hour and a half of 1 s samples with its traces). */
export const MAX_VIEWER_EVENTS = 10_000;

export type At = { time?: number; position?: number };

/** The viewers joined to a connection, as they were at `at`. */
export async function viewersOf(store: Pick<EventStore, 'clientStreamsOf' | 'readStream'>, connectionId: string, at: At = {}): Promise<ViewerModel[]> {
  const out: ViewerModel[] = [];
  for (const { stream } of await store.clientStreamsOf(connectionId, at.position)) {
    const events = await store.readStream(stream, { untilPosition: at.position, untilTime: at.time, limit: MAX_VIEWER_EVENTS });
    const viewer = foldViewer(stream, events);
    // Joined after `at`: not yet part of this connection then.
    if (viewer && viewer.connection_id === connectionId) out.push(viewer);
  }
  return out;
}

export type BothEnds = {
  server: {
    packets_sent: number | null;
    bytes_sent: number | null;
    frames_sent: number | null;
    packets_lost_reported: number | null;
    at: string | null;
  };
  viewers: {
    stream: string;
    packets_received: number | null;
    bytes_received: number | null;
    packets_lost: number | null;
    frames_decoded: number | null;
    freeze_count: number | null;
    total_freezes_duration_ms: number | null;
  }[];
};

const sum = (values: (number | null)[]) => (values.every((v) => v === null) ? null : values.reduce<number>((a, v) => a + (v ?? 0), 0));

/** Server sent X, each viewer received Y, lost Z, froze N times: the side-by-side line of the detail. */
export function bothEnds(connection: ConnectionModel, viewers: ViewerModel[]): BothEnds {
  const s = connection.latest_stats as Record<string, unknown> | null;
  const n = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    server: {
      packets_sent: n(s?.packets_sent),
      bytes_sent: n(s?.bytes_sent),
      frames_sent: n(s?.frames_sent),
      packets_lost_reported: n(s?.packets_lost),
      at: (s?.at as string | undefined) ?? null,
    },
    viewers: viewers.map((v) => ({
      stream: v.stream,
      packets_received: sum(v.tracks.map((t) => t.packets_received)),
      bytes_received: sum(v.tracks.map((t) => t.bytes_received)),
      packets_lost: sum(v.tracks.map((t) => t.packets_lost)),
      frames_decoded: sum(v.tracks.map((t) => t.frames_decoded)),
      freeze_count: sum(v.tracks.map((t) => t.freeze_count)),
      total_freezes_duration_ms: sum(v.tracks.map((t) => t.total_freezes_duration_ms)),
    })),
  };
}

/**
 * The viewers' events in a window of the log (after `afterPosition`, up to
 * `untilPosition`), to merge with the server's timeline by position.
 */
export async function viewerEventsBetween(
  store: Pick<EventStore, 'readStreamRows'>,
  streams: string[],
  afterPosition: number,
  until: At,
  limit: number,
): Promise<EventRow[]> {
  const rows: EventRow[] = [];
  for (const stream of streams) {
    for (const r of await store.readStreamRows(stream, { untilPosition: until.position, untilTime: until.time, limit: MAX_VIEWER_EVENTS })) {
      if (r.position > afterPosition) rows.push(r);
    }
  }
  return rows.sort((a, b) => a.position - b.position).slice(0, limit);
}
