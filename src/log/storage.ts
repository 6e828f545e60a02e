// What a failed write to the database means to a client: storage that is
// full, busy or gone is the server's condition, not a bug, so it is a 503
// with a stable storage code and a Retry-After, never a 500.
import { AppError, isAppError, unavailable } from '../errors.ts';

const STORAGE_CODES = new Set(['STORAGE_FULL', 'STORAGE_BUSY', 'STORAGE_UNAVAILABLE']);

/** Whether an error is one of ours saying storage failed. */
export const isStorageError = (err: unknown): boolean => isAppError(err) && STORAGE_CODES.has(err.code);

/**
 * The storage AppError for an error SQLite raised, or null when it is not a
 * storage condition (a constraint, a bug). Messages are fixed: SQLite's own
 * may carry file names.
 */
export function storageError(err: unknown): AppError | null {
  if (isStorageError(err)) return err as AppError;
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return null;
  if (code === 'SQLITE_FULL') return unavailable('STORAGE_FULL', 'storage is full: the event could not be recorded (SQLITE_FULL)', 30);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return unavailable('STORAGE_BUSY', `storage is busy: another writer held the database too long (${code})`, 2);
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code === 'SQLITE_CORRUPT' ||
    code === 'SQLITE_NOTADB' ||
    code === 'SQLITE_PERM'
  ) {
    return unavailable('STORAGE_UNAVAILABLE', `storage is unavailable: the database cannot be written (${code})`, 30);
  }
  return null;
}
