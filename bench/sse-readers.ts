// N live-feed clients in one process, each reading the log from position 0
// as fast as it arrives (bytes counted, nothing parsed), like `curl -N`.
// Prints {"ready": N} once every response has started, and on SIGTERM
// {"bytes": ..., "frames_approx": ...} and exits.
//
//   node --import tsx bench/sse-readers.ts <feed url> <N>
export {};
const [url, count] = process.argv.slice(2);
const n = Number(count);
let bytes = 0;
let started = 0;
const controllers: AbortController[] = [];
await Promise.all(
  Array.from({ length: n }, async () => {
    const controller = new AbortController();
    controllers.push(controller);
    const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    if (res.status !== 200 || !res.body) throw new Error(`feed answered ${res.status}`);
    started++;
    if (started === n) process.stdout.write(`${JSON.stringify({ ready: n })}\n`);
    void (async () => {
      try {
        for await (const chunk of res.body!) bytes += (chunk as Uint8Array).byteLength;
      } catch {
        // aborted at the end
      }
    })();
  }),
);
process.once('SIGTERM', () => {
  for (const c of controllers) c.abort();
  process.stdout.write(`${JSON.stringify({ bytes })}\n`);
  process.exit(0);
});
