// A live-feed reader in its own process, as fast as `curl -N`: it reads
// everything the server sends, checks every id comes once and in order, and
// prints `{"frames": N, "last": ID}` when it has seen `until`, then exits.
//
//   node --import tsx test/helpers/sseReader.ts <url> <until> [token]
export {};
const [url, until, token] = process.argv.slice(2);
const res = await fetch(url, { headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
if (res.status !== 200 || !res.body) {
  process.stdout.write(`${JSON.stringify({ error: res.status })}\n`);
  process.exit(1);
}
const decoder = new TextDecoder();
let buffer = '';
let frames = 0;
let last = 0;
for await (const chunk of res.body) {
  buffer += decoder.decode(chunk as Uint8Array, { stream: true });
  let at: number;
  while ((at = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    const id = /^id: (\d+)$/m.exec(block);
    if (!id) continue;
    const position = Number(id[1]);
    if (position <= last) {
      process.stdout.write(`${JSON.stringify({ error: `position ${position} after ${last}` })}\n`);
      process.exit(1);
    }
    last = position;
    frames++;
    if (last >= Number(until)) {
      process.stdout.write(`${JSON.stringify({ frames, last })}\n`);
      process.exit(0);
    }
  }
}
process.stdout.write(`${JSON.stringify({ error: 'the stream ended', frames, last })}\n`);
process.exit(1);
