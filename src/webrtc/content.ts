// Content is addressed by a file name inside the content directory or by its
// SHA-256; nothing outside that directory is ever opened.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, extname, join, resolve, sep } from 'node:path';
import { AppError } from '../errors.ts';

export type ContentItem = { name: string; path: string; size: number; sha256: string; media: boolean };

const MEDIA_EXTENSIONS = new Set(['.webm', '.mp4', '.mkv', '.m4v', '.mov']);
/** Largest number of files listed or hashed; a content directory is a handful of clips, not an archive. */
const MAX_ITEMS = 500;

/** Hashes are cached by path, size and mtime so a request does not re-read every file. Bounded by MAX_ITEMS. */
const hashCache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

async function sha256Of(path: string, size: number, mtimeMs: number): Promise<string> {
  const cached = hashCache.get(path);
  if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.sha256;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  if (hashCache.size >= MAX_ITEMS) hashCache.delete(hashCache.keys().next().value!);
  hashCache.set(path, { size, mtimeMs, sha256 });
  return sha256;
}

export async function describeDir(dir: string): Promise<{ path: string; exists: boolean; readable: boolean; items: ContentItem[]; error?: string }> {
  const path = resolve(dir);
  try {
    const names = (await readdir(path, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name).sort();
    const items: ContentItem[] = [];
    for (const name of names.slice(0, MAX_ITEMS)) {
      const full = join(path, name);
      const s = await stat(full);
      items.push({ name, path: full, size: s.size, sha256: await sha256Of(full, s.size, s.mtimeMs), media: MEDIA_EXTENSIONS.has(extname(name).toLowerCase()) });
    }
    return { path, exists: true, readable: true, items };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { path, exists: code !== 'ENOENT', readable: false, items: [], error: code ?? (err as Error).message };
  }
}

/** Finds content by name or SHA-256 (hex); 404 CONTENT_NOT_FOUND if missing, 422 if the name leaves the directory. */
export async function resolveContent(dir: string, ref: string): Promise<ContentItem> {
  const root = resolve(dir);
  if (/^[0-9a-f]{64}$/i.test(ref)) {
    const listing = await describeDir(root);
    const found = listing.items.find((i) => i.sha256 === ref.toLowerCase());
    if (!found) throw new AppError('CONTENT_NOT_FOUND', `no content with SHA-256 ${ref}`);
    return found;
  }
  if (ref.includes('\0') || ref.includes('/') || ref.includes('\\') || ref === '.' || ref === '..' || basename(ref) !== ref) {
    throw new AppError('VALIDATION_FAILED', 'content must be a file name inside the content directory or a SHA-256');
  }
  const full = join(root, ref);
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([realpath(full), realpath(root)]);
  } catch {
    throw new AppError('CONTENT_NOT_FOUND', `no content named "${ref}"`);
  }
  // A symlink inside the directory must not lead outside it.
  if (!real.startsWith(realRoot + sep)) {
    throw new AppError('VALIDATION_FAILED', 'content must stay inside the content directory');
  }
  const s = await stat(real);
  if (!s.isFile()) throw new AppError('CONTENT_NOT_FOUND', `"${ref}" is not a file`);
  return {
    name: ref,
    path: real,
    size: s.size,
    sha256: await sha256Of(real, s.size, s.mtimeMs),
    media: MEDIA_EXTENSIONS.has(extname(ref).toLowerCase()),
  };
}
