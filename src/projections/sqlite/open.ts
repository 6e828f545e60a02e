// Opening the node's store: the SQLite event log with the inline projector
// in its append transaction, and the read-model queries on the same handle.
// A writer first brings the read models to this code's versions: a model
// whose version changed (or a database that predates versions) is rebuilt
// from the log here, before anything is served from it.
import { AppError } from '../../errors.ts';
import { SqliteEventStore, type SqliteStoreOptions } from '../../log/sqliteStore.ts';
import { Projector } from './projector.ts';
import { SqliteMonitorReads } from './reads.ts';
import { rebuild, staleReadModels, type RebuildReport, type StaleModel } from './rebuild.ts';

export type OpenedStore = {
  store: SqliteEventStore;
  reads: SqliteMonitorReads;
  /** The read models rebuilt at open because their version changed, and how long it took; null when none was. */
  rebuilt: { models: StaleModel[]; report: RebuildReport } | null;
  close(): Promise<void>;
};

export type OpenStoreOptions = Omit<SqliteStoreOptions, 'projector'> & {
  /** Told before a rebuild of stale read models starts (the server logs it). */
  onRebuild?: (models: StaleModel[]) => void;
  /** false: leave stale read models as they are (`rebuild` rebuilds them itself; `prune` does not read them). */
  rebuildStale?: boolean;
};

/** Opens (creating and migrating if needed) the store at `path` for writing, read models current. */
export async function openStore(path: string, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  const store = SqliteEventStore.open(path, { ...options, projector: new Projector() });
  try {
    const stale = options.rebuildStale === false ? [] : staleReadModels(store.db);
    let rebuilt: OpenedStore['rebuilt'] = null;
    if (stale.length && (await store.head()) === 0 && (await store.prunedThrough()) === null) {
      // A new database: nothing to replay, only the versions to record.
      await rebuild(store);
    } else if (stale.length) {
      const pruned = await store.prunedThrough();
      if (pruned !== null) {
        throw new AppError(
          'CONFLICT',
          `the read models (${stale.map((m) => m.name).join(', ')}) were built by another version and must be rebuilt from the log, ` +
            `but events up to position ${pruned} were pruned: run \`webrtc-monitor rebuild --force\` to rebuild them from what is left`,
        );
      }
      options.onRebuild?.(stale);
      rebuilt = { models: stale, report: await rebuild(store) };
    }
    return { store, reads: new SqliteMonitorReads(store), rebuilt, close: () => store.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Opens an existing store for maintenance (`rebuild`, `prune`): a mistyped
 * path must not create an empty database, so the file is first opened read
 * only, which names the file and what is wrong with it (missing, a
 * directory, not SQLite, not ours). Held: refused while a server holds it.
 */
export async function openExistingStore(path: string): Promise<OpenedStore> {
  await SqliteEventStore.openReadOnly(path).close();
  return openStore(path, { hold: 'maintenance', rebuildStale: false });
}

/**
 * Opens an existing store for reading only (`export-logs`). Its read models
 * must be current: a reader cannot rebuild them, and would otherwise answer
 * from rows an older version wrote.
 */
export function openReadOnlyStore(path: string): OpenedStore {
  const store = SqliteEventStore.openReadOnly(path);
  let stale: StaleModel[];
  try {
    stale = staleReadModels(store.db);
  } catch {
    // No versions table: a database no version of this code with versions has opened for writing.
    stale = [{ name: 'all', stored: null, current: 0 }];
  }
  if (stale.length) {
    void store.close();
    throw new AppError(
      'CONFLICT',
      `the read models in ${path} were built by another version (${stale.map((m) => m.name).join(', ')}): ` +
        'start the server on it once, or run `webrtc-monitor rebuild`, then try again',
    );
  }
  return { store, reads: new SqliteMonitorReads(store), rebuilt: null, close: () => store.close() };
}
