// Following the log over Server-Sent Events, read with fetch rather than
// EventSource so the request can carry the bearer token (EventSource cannot
// send headers, and a token in the URL would end up in logs and history).
// It resumes where it stopped with Last-Event-ID, after a dropped connection
// or a refusal (a 503 when the server has too many feed clients). A position
// the server's log has not reached (its database was replaced) is refused
// with POSITION_BEYOND_LOG: the reader then follows from the head instead.
// Frames carry their type as `event:`; this reader takes the type from the
// data, which holds it too.
import { MONITOR, authorized } from './api.js';

const RETRY_MS = 2000;

/** The data of each complete frame in `buffer`; returns what is left. */
function frames(buffer, onData) {
  let at;
  while ((at = buffer.indexOf('\n\n')) >= 0) {
    const block = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    let data = null;
    let id = null;
    for (const line of block.split('\n')) {
      if (line.startsWith('data: ')) data = data === null ? line.slice(6) : `${data}\n${line.slice(6)}`;
      else if (line.startsWith('id: ')) id = line.slice(4);
    }
    if (data !== null) onData(data, id);
  }
  return buffer;
}

export function followLog(after, { onEvent, onStatus, onReset }) {
  let last = after;
  let stopped = false;
  let controller = null;
  let retry = null;
  const open = async () => {
    controller = new AbortController();
    // No position: from the head of the log (live events only).
    const headers = authorized({ accept: 'text/event-stream' });
    if (last !== null) headers['last-event-id'] = String(last);
    try {
      const res = await fetch(`${MONITOR}/events/stream`, { headers, signal: controller.signal, cache: 'no-store' });
      if (res.status === 400 && last !== null) {
        const problem = await res.json().catch(() => null);
        if (problem?.code === 'POSITION_BEYOND_LOG') {
          // Our position belongs to another log: follow this one from its
          // head, and let the page reload what it shows from this log.
          last = null;
          onStatus('reconnecting');
          onReset?.();
          if (!stopped) retry = setTimeout(open, 0);
          return;
        }
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onStatus('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = frames(buffer + value, (data, id) => {
          const event = JSON.parse(data);
          // The frame's id is where to resume: a position on a node, per-node positions on the fleet monitor.
          last = id ?? Math.max(last ?? 0, event.position);
          onEvent(event);
        });
      }
      if (!stopped) onStatus('reconnecting');
    } catch {
      if (stopped) return;
      onStatus('offline');
    }
    if (!stopped) retry = setTimeout(open, RETRY_MS);
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    controller?.abort();
  };
}
