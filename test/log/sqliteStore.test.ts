// The SQLite store held to the store's contract (test/log/contract.ts).
import { freshStore } from '../helpers/db.ts';
import { storeContract } from './contract.ts';

storeContract('SqliteEventStore', async () => {
  let now = Date.UTC(2026, 0, 1);
  const t = await freshStore({ clock: () => now });
  return {
    store: t.log,
    reads: t.reads,
    dir: t.dir,
    setNow: (ms) => {
      now = ms;
    },
    cleanup: () => t.cleanup(),
  };
});
