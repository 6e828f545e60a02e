// A Server-Sent Events client for tests: reads frames from a real HTTP
// response and keeps them in order, with a way to wait for the nth.
export type SseFrame = { id: string | null; event: string | null; data: string | null; comment: string | null; retry: number | null };

export type SseClient = {
  status: number;
  headers: Headers;
  frames: SseFrame[];
  /** Frames that carried data, parsed as JSON. */
  events(): { position: number; type: string; stream: string; data: Record<string, unknown> }[];
  /** Resolves when at least n data frames have arrived (rejects after timeoutMs). */
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
  waitFor(predicate: (frames: SseFrame[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  close(): void;
};

export function parseFrame(block: string): SseFrame {
  const frame: SseFrame = { id: null, event: null, data: null, comment: null, retry: null };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) frame.comment = (frame.comment ? `${frame.comment}\n` : '') + line.slice(1).trim();
    else if (line.startsWith('id: ')) frame.id = line.slice(4);
    else if (line.startsWith('event: ')) frame.event = line.slice(7);
    else if (line.startsWith('data: ')) frame.data = (frame.data === null ? '' : `${frame.data}\n`) + line.slice(6);
    else if (line.startsWith('retry: ')) frame.retry = Number(line.slice(7));
  }
  return frame;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const frames: SseFrame[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  const decoder = new TextDecoder();
  const ended = (async () => {
    if (!res.body) return;
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          frames.push(parseFrame(buffer.slice(0, at)));
          buffer = buffer.slice(at + 2);
        }
        for (const wake of waiters) wake();
      }
    } catch {
      // aborted by close(), or the server went away
    }
    for (const wake of waiters) wake();
  })();
  let done = false;
  void ended.then(() => (done = true));

  const client: SseClient = {
    status: res.status,
    headers: res.headers,
    frames,
    events: () => frames.filter((f) => f.data !== null).map((f) => JSON.parse(f.data!)),
    waitForEvents: (n, timeoutMs) => client.waitFor((fs) => fs.filter((f) => f.data !== null).length >= n, timeoutMs),
    waitFor(predicate, timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate(frames)) return finish(resolve);
          if (done) return finish(() => reject(new Error(`stream ended; ${frames.length} frames`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out with ${frames.length} frames`))), timeoutMs);
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      });
    },
    ended,
    close: () => abort.abort(),
  };
  return client;
}
