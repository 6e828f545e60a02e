// A fresh, migrated database file in a temporary directory, removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../../src/log/open.ts';
import { EventLog } from '../../src/log/append.ts';
import { Projector } from '../../src/projections/projector.ts';

export type TestStore = { dir: string; path: string; db: Db; log: EventLog; cleanup(): void };

export function tempDir(prefix = 'wrm-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function freshStore(options: { clock?: () => number } = {}): TestStore {
  const { dir, cleanup } = tempDir();
  const path = join(dir, 'monitor.db');
  const db = openDatabase(path);
  const log = new EventLog(db, new Projector(), options.clock);
  return {
    dir,
    path,
    db,
    log,
    cleanup() {
      try {
        log.close();
        db.close();
      } catch {
        // already closed by the test
      }
      cleanup();
    },
  };
}
