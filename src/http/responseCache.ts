// Finished monitor responses, kept by what identifies them: the route's
// path and query, and the log position they were built at. Every read of the
// monitor is a projection of the log, so the same question asked at the same
// log position has the same answer: a hit is only served while the log's
// head is still the position the entry was built at, and any append makes
// every entry a miss (a read right after an append sees it). The time-of-day
// fields a response ends with (`timestamp`) are not cached; the route adds
// them to the cached bytes on each answer. Entries are kept as UTF-8 bytes,
// encoded once when built: a hit copies them out, never re-encodes the text.
//
// Bounded by bytes, least recently used first out: memory does not grow with
// the number of connections or distinct queries asked.

/** The default byte cap: a few hundred detail pages of the largest kind. */
export const RESPONSE_CACHE_BYTES = 16 * 1024 * 1024;

type Entry = { position: number; body: Buffer; bytes: number };

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private size = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes = RESPONSE_CACHE_BYTES) {}

  /** Bytes held now (the bodies, and the keys as UTF-16 strings). */
  get bytes(): number {
    return this.size;
  }

  get count(): number {
    return this.entries.size;
  }

  /** The body built for `key` at log position `position`, if it is still held. */
  get(key: string, position: number): Buffer | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.position !== position) {
      this.misses++;
      return undefined;
    }
    // Re-insert: Map order is least recently used first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return entry.body;
  }

  /** Keeps `body`, built at `position`, evicting the least recently used past the cap. */
  set(key: string, position: number, body: Buffer): void {
    const bytes = key.length * 2 + body.length;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.size -= old.bytes;
    }
    // One answer larger than a quarter of the cap is not worth what it evicts.
    if (bytes > this.maxBytes / 4) return;
    this.entries.set(key, { position, body, bytes });
    this.size += bytes;
    for (const [k, e] of this.entries) {
      if (this.size <= this.maxBytes) break;
      this.entries.delete(k);
      this.size -= e.bytes;
    }
  }
}
