// File names for exported logs: `<UTC timestamp>_<id>.json`, safe whatever the
// id holds. Anything outside [A-Za-z0-9_-] becomes `_`, long ids are cut, and
// an id that had to change gets a short hash so two ids never share a file.
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config.ts';

const MAX_PART = 80;

export function safePart(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9_-]/g, '_');
  if (cleaned === value && value.length > 0 && value.length <= MAX_PART) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 10);
  return `${cleaned.slice(0, MAX_PART)}-${hash}`;
}

/** 2026-11-24T08:03:12.345Z -> 20261124T080312.345Z (sortable, no colons). */
export function fileTimestamp(iso: string): string {
  return iso.replace(/[-:]/g, '');
}

export const connectionFileName = (createdAtIso: string, id: string) =>
  `${fileTimestamp(createdAtIso)}_${safePart(id)}.json`;

export const operationFileName = (startedAtIso: string, type: string, id: string) =>
  `${fileTimestamp(startedAtIso)}_${safePart(type)}_${safePart(id)}.json`;

/** Where `POST export` writes: the --log-dir if set, else `exports/` beside the database. */
export function exportDirFor(config: Config): string {
  if (config.logDir) return resolve(config.logDir);
  const base = config.persistencePath === ':memory:' ? resolve('data') : dirname(resolve(config.persistencePath));
  return join(base, 'exports');
}
