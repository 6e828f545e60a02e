// `serve --log-dir`: writes each connection's file when it closes and each
// operation's file when it finishes. It is a checkpointed consumer of the log:
// it reads events after its checkpoint in position order and moves the
// checkpoint after each file, so a restart resumes with no gap; a file
// rewritten after a crash has the same name, so there is no duplicate.
import type { Logger } from 'pino';
import type { EventStore } from '../log/store.ts';
import { parseStream } from '../log/catalogue.ts';
import type { MonitorReads } from '../projections/reads.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeConnectionFile, writeOperationFile } from './exporter.ts';

export const LOG_DIR_CONSUMER = 'log-dir';
const FINISHING = ['connection.closed', 'operation.completed', 'operation.failed', 'operation.cancelled'];

export class LogDirWriter {
  private running: Promise<void> | null = null;
  private again = false;
  private unsubscribe: (() => void) | null = null;
  filesWritten = 0;

  constructor(
    private readonly store: EventStore,
    private readonly reads: MonitorReads,
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await mkdir(join(this.dir, 'connections'), { recursive: true });
    await mkdir(join(this.dir, 'operations'), { recursive: true });
    this.unsubscribe = this.store.onCommit(() => this.kick());
    this.kick();
    await this.idle();
  }

  /** Resolves when everything committed so far has been written. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.idle();
  }

  /** The position the writer's stored checkpoint covers (0 before its first). */
  async checkpointPosition(): Promise<number> {
    const checkpoint = await this.store.readCheckpoint(LOG_DIR_CONSUMER);
    return checkpoint === null ? 0 : this.store.positionOf(checkpoint);
  }

  private kick() {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err) => this.logger.error({ err }, 'log-dir writer failed; it resumes from its checkpoint on the next commit'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async drain() {
    const { store, reads } = this;
    let after = await this.checkpointPosition();
    const head = await store.head();
    for (;;) {
      const page = await store.readLog({ after, limit: 500, types: FINISHING });
      for (const event of page) {
        const target = parseStream(event.stream);
        if (target?.kind === 'connection') {
          const c = await reads.connection(target.id);
          if (c) await writeConnectionFile(store, reads, this.dir, c);
        } else if (target?.kind === 'operation') {
          const o = await reads.operation(target.id);
          if (o) await writeOperationFile(store, reads, this.dir, o);
        }
        this.filesWritten++;
        after = event.position;
        await store.writeCheckpoint(LOG_DIR_CONSUMER, store.checkpointAt(after));
      }
      if (page.length < 500) break;
    }
    // Nothing up to the head we saw needs a file: move past it, so the next
    // drain does not rescan events that were only stats samples.
    if (head > after) await store.writeCheckpoint(LOG_DIR_CONSUMER, store.checkpointAt(head));
  }
}
