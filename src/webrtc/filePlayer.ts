// werift's file player (getUserMedia from werift/nonstandard) pulls in its
// container parsers: ~150 ms of module loading that only media streams need,
// so it is loaded on first use rather than at start-up.
import type { getUserMedia } from 'werift/nonstandard';

let loading: Promise<typeof getUserMedia> | null = null;

export function loadFilePlayer(): Promise<typeof getUserMedia> {
  loading ??= import('werift/nonstandard').then((m) => m.getUserMedia);
  return loading;
}
