// Turns what happens to one connection into events on its stream, in the
// order it happened. EventStore.append queues synchronously in call order and
// commits batches in order, so appending at the moment werift reports
// something keeps the stream in order however slow a commit is; `settled()`
// waits for everything recorded so far. After the close is recorded the
// stream is sealed: a late werift callback cannot append past it.
import type { Logger } from 'pino';
import type { EventStore } from '../log/store.ts';
import { streamName, type NewEvent } from '../log/catalogue.ts';

export class ConnectionRecorder {
  private last: Promise<unknown> = Promise.resolve();
  private sealed = false;
  private readonly stream: string;

  constructor(
    private readonly log: EventStore,
    readonly connectionId: string,
    private readonly logger: Logger,
  ) {
    this.stream = streamName('connection', connectionId);
  }

  get isSealed(): boolean {
    return this.sealed;
  }

  /** Appends events to this connection's stream; never throws (a failed append is logged). */
  record(events: NewEvent[], meta?: Record<string, unknown>): Promise<void> {
    if (this.sealed) return Promise.resolve();
    const appended = this.log.append(this.stream, events, meta ? { meta } : {}).then(
      (result) => {
        if (!result.ok) this.logger.error({ connectionId: this.connectionId, result }, 'connection event conflict');
      },
      // The log counts what it could not record and marks it with a
      // `log.gap` event once storage returns; one line per lost event (a
      // stats sample a second per peer on a full disk) would flood the log.
      (err) => this.logger.debug({ err, connectionId: this.connectionId, types: events.map((e) => e.type) }, 'connection event not recorded'),
    );
    this.last = appended;
    return appended;
  }

  /** Records the close, then refuses anything further. */
  recordClose(reason: string, initiator: 'local' | 'remote' | 'ice' | 'shutdown', meta?: Record<string, unknown>): Promise<void> {
    const done = this.record([{ type: 'connection.closed', data: { reason, initiator } }], meta);
    this.sealed = true;
    return done;
  }

  /** Resolves when everything recorded so far is committed (or has failed). */
  settled(): Promise<void> {
    return this.last.then(() => {});
  }
}
