// ISO-8601 text of an event's time, for the reducers. The events of one
// commit share their recorded_at, so the last answer is kept: a batch of a
// hundred events formats its time once. Pure: the same input, the same text.
let lastMs = Number.NaN;
let lastText = '';

export function iso(ms: number): string {
  if (ms !== lastMs) {
    lastText = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastText;
}
