// Streams: a piece of content offered to viewers (`server:<id>` in the log).
// Starting one is an operation (a media file is probed first); stopping one
// closes its peers and records `server.stopped`. Every end of a stream, for
// whatever reason (stopped, a benchmark or the async-close test finished,
// shutdown), is recorded by `recordStopped`, here and nowhere else.
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { getUserMedia } from 'werift/nonstandard';
import { AppError } from '../errors.ts';
import { streamName } from '../log/catalogue.ts';
import type { OperationContext, Started } from '../operations/runner.ts';
import type { WebRtcContext, Origin } from './context.ts';
import type { Connections } from './connections.ts';
import { resolveContent, type ContentItem } from './content.ts';
import { loadFilePlayer } from './filePlayer.ts';
import type { LiveStream } from './registry.ts';
import type { StreamCodecs, StreamMode } from './serverPeer.ts';
import type { Quality } from './quality.ts';

export type StreamRequest = { content: string; quality: Quality; mode: StreamMode; iceServers?: string[]; viewerTokenSha256?: string | null };
export type StreamResult = { server_id: string; content: string; sha256: string; mode: StreamMode; quality: Quality };
/** Why a stream ended, as `server.stopped` records it. */
export type StopReason = 'stopped' | 'benchmark_finished' | 'async_close_test' | 'shutdown';

export class Streams {
  constructor(
    private readonly ctx: WebRtcContext,
    private readonly connections: Connections,
  ) {}

  async start(request: StreamRequest, origin: Origin = {}): Promise<Started<StreamResult> & { serverId: string }> {
    this.ctx.gate.check();
    const content = await this.content(request.content, request.mode);
    const serverId = randomUUID();
    const params = { content: content.name, sha256: content.sha256, mode: request.mode, quality: request.quality };
    const started = await this.ctx.runner.start(
      'stream',
      { ...params, ice_servers: request.iceServers ?? null },
      async (op) => {
        const probed = request.mode === 'media' ? await op.task('probe media', () => probeMedia(content.path)) : null;
        await this.open(op, {
          serverId,
          content,
          mode: request.mode,
          quality: request.quality,
          iceServers: request.iceServers ?? this.ctx.config.iceServers,
          viewerTokenSha256: request.viewerTokenSha256 ?? null,
          codecs: probed?.codecs ?? null,
          createdAt: Date.now(),
        });
        return { server_id: serverId, ...params };
      },
      { serverId, requestId: origin.requestId },
    );
    return { ...started, serverId };
  }

  get(serverId: string): LiveStream {
    return this.ctx.registry.requireStream(serverId);
  }

  async stop(serverId: string, origin: Origin = {}) {
    const { registry } = this.ctx;
    const stream = this.get(serverId);
    // Gone at once, so no viewer joins while its peers are being closed.
    registry.streams.delete(serverId);
    try {
      return await this.ctx.runner.start(
        'stream_stop',
        { server_id: serverId },
        async (op) => {
          const closed = await this.connections.closePeers(op, registry.peersOf(serverId), 'local', 'stream_stopped');
          await this.recordStopped(op, serverId, 'stopped');
          return { server_id: serverId, closed: closed.length, connection_ids: closed };
        },
        { serverId, requestId: origin.requestId },
      );
    } catch (err) {
      registry.streams.set(serverId, stream);
      throw err;
    }
  }

  /** Adds a stream to the registry and records `server.created` (as part of operation `op`). */
  async open(op: OperationContext, stream: LiveStream) {
    this.ctx.gate.check();
    this.ctx.registry.addStream(stream);
    await this.ctx.log.append(
      streamName('server', stream.serverId),
      [
        {
          type: 'server.created',
          data: {
            server_id: stream.serverId,
            content: stream.content.name,
            mode: stream.mode,
            quality: stream.quality,
            ...(stream.viewerTokenSha256 ? { viewer_token_sha256: stream.viewerTokenSha256 } : {}),
          },
        },
      ],
      { expectedVersion: 'no_stream', meta: { operation_id: op.operationId } },
    );
  }

  /**
   * Ends a stream operation `op` opened, unless something else (a shutdown)
   * already ended and recorded it: takes it out of the registry, closes the
   * peers still on it when asked, and records `server.stopped`.
   */
  async closeIfOpen(op: OperationContext, serverId: string, reason: StopReason, options: { closePeers: boolean }) {
    const { registry } = this.ctx;
    const mine = registry.streams.delete(serverId);
    if (options.closePeers) {
      const leftovers = registry.peersOf(serverId);
      if (leftovers.length) await this.connections.closePeers(op, leftovers, 'local', reason).catch(() => {});
    }
    if (mine) await this.recordStopped(op, serverId, reason);
  }

  /** The one place `server.stopped` is appended. */
  recordStopped(op: OperationContext, serverId: string, reason: StopReason) {
    return this.ctx.log.append(streamName('server', serverId), [{ type: 'server.stopped', data: { server_id: serverId, reason } }], {
      meta: { operation_id: op.operationId },
    });
  }

  /** The content a request names, checked against its mode (422 for a media stream of a file that is not media). */
  async content(ref: string, mode: StreamMode): Promise<ContentItem> {
    const content = await resolveContent(this.ctx.config.contentDir, ref);
    if (mode === 'media' && !content.media) {
      throw new AppError('VALIDATION_FAILED', `"${content.name}" is not a media file (WebM or MP4); stream it with mode "data"`);
    }
    return content;
  }
}

/** Opens the file with werift's player and checks it has something to play. */
async function probeMedia(path: string) {
  let player: Awaited<ReturnType<typeof getUserMedia>>;
  try {
    player = await (await loadFilePlayer())({ path, loop: false });
  } catch (err) {
    // werift's message may name the file by its absolute path: show the name only.
    const message = (err as Error).message.split(path).join(basename(path));
    throw new AppError('VALIDATION_FAILED', `the file cannot be played: ${message}`);
  }
  const tracks = { video: Boolean(player.video), audio: Boolean(player.audio) };
  // The codec of each track as the file holds it (werift plays it as it is,
  // never transcoding): an offer without it cannot be served (406,
  // offerCodecs.ts). The player's session is werift internals; werift 0.24.4
  // is pinned.
  const session = (player as unknown as { session?: { playbackTracks?: { track: { kind: string }; sourceCodec: string }[] } }).session;
  const codecs: StreamCodecs = {};
  for (const t of session?.playbackTracks ?? []) {
    if (t.track.kind === 'video' || t.track.kind === 'audio') codecs[t.track.kind] = String(t.sourceCodec).toLowerCase();
  }
  player.stop();
  if (!tracks.video && !tracks.audio) throw new AppError('VALIDATION_FAILED', 'the file has no audio or video track');
  return { ...tracks, codecs };
}
