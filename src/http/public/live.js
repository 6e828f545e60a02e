// Following the log over Server-Sent Events. EventSource reconnects by itself
// and resumes with Last-Event-ID; when the server refuses outright (a non-200,
// e.g. 503 with too many clients) it gives up, so we start over from the last
// position seen.
import { MONITOR } from './api.js';

export function followLog(after, { onEvent, onStatus }) {
  let last = after;
  let source = null;
  let retry = null;
  const open = () => {
    // No position: from the head of the log (live events only).
    const query = last === null ? '' : `?after=${encodeURIComponent(last)}`;
    source = new EventSource(`${MONITOR}/events/stream${query}`);
    source.onopen = () => onStatus('live');
    source.onmessage = (message) => {
      const event = JSON.parse(message.data);
      last = Math.max(last ?? 0, event.position);
      onEvent(event);
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        onStatus('offline');
        clearTimeout(retry);
        retry = setTimeout(open, 5000);
      } else {
        onStatus('reconnecting');
      }
    };
  };
  open();
  return () => {
    clearTimeout(retry);
    source?.close();
  };
}
