// POST .../monitor/webrtc/test/async_close: the add-on's event-loop fix,
// demonstrated. Sets up a real loopback pair (this server's peer and an
// in-process werift viewer), then closes it through the runner in the
// background; the caller answers 202 with the operation to poll.
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { WebRtcContext, Origin } from './context.ts';
import type { Connections } from './connections.ts';
import type { Streams } from './streams.ts';
import { describeDir } from './content.ts';
import { openViewer, type Viewer } from './viewer.ts';

export class AsyncCloseTest {
  /** The test's viewers still open: shutdown closes them. */
  private readonly viewers = new Set<Viewer>();

  constructor(
    private readonly ctx: WebRtcContext,
    private readonly streams: Streams,
    private readonly connections: Connections,
  ) {}

  async run(origin: Origin = {}) {
    const { registry, runner } = this.ctx;
    this.ctx.gate.check();
    const listing = await describeDir(this.ctx.config.contentDir);
    const item = listing.items[0];
    if (!item) throw new AppError('UNAVAILABLE', `the content directory ${listing.path} has no file to stream`);
    const serverId = randomUUID();
    let viewer: Viewer | null = null;
    const setup = await runner.run(
      'test_async_close_setup',
      { content: item.name },
      async (op) => {
        await this.streams.open(op, { serverId, content: item, mode: 'data', quality: 'low', iceServers: [], createdAt: Date.now() });
        // Task results go into the log as JSON: hand the viewer out through the closure.
        const summary = await op.task('connect loopback pair', async (signal) => {
          const v = await openViewer(this.connections.inProcessExchange(serverId, { remote: 'async_close_test' }), { expect: 'data', signal });
          viewer = v;
          this.viewers.add(v);
          return { connection_id: v.connectionId, setup_ms: v.setupMs };
        });
        return summary;
      },
      { serverId, requestId: origin.requestId },
    );
    if (setup.status !== 'completed' || !viewer) {
      registry.streams.delete(serverId);
      // Why is on the record (the operation's error); the answer does not repeat it.
      throw new AppError('WEBRTC_ERROR', `the loopback pair could not be set up; see operation ${setup.operationId}`, { operation_id: setup.operationId }, true);
    }
    const testViewer: Viewer = viewer;
    const { connection_id: connectionId, setup_ms: setupMs } = setup.result;
    const peer = registry.peers.get(connectionId);
    const started = await runner.start(
      'test_async_close',
      { connection_id: connectionId, server_id: serverId },
      async (op) => {
        try {
          const closed = peer
            ? (await op.task('close', () => peer.close('local', 'async_close_test', { operation_id: op.operationId }), { connectionId })).closedNow
            : false;
          await op.task('close viewer', () => testViewer.leave());
          return { connection_id: connectionId, closed, setup_ms: setupMs };
        } finally {
          this.viewers.delete(testViewer);
          await this.streams.closeIfOpen(op, serverId, 'async_close_test', { closePeers: false });
        }
      },
      { connectionId, serverId, requestId: origin.requestId },
    );
    return { started, connectionId, serverId, setupOperationId: setup.operationId };
  }

  /** Closes the viewers of tests still running (shutdown, after their server peers are closed). */
  async leaveAll() {
    for (const viewer of this.viewers) await viewer.leave().catch(() => {});
  }
}
