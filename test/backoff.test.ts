import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay } from '../src/backoff.ts';

const Backoff = suite('backoffDelay');
const backoff = { initialMs: 250, maxMs: 10_000 };

Backoff('doubles the ceiling with each failure in a row, up to the maximum', () => {
  const top = () => 1 - Number.EPSILON;
  assert.equal([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, backoff, top)), [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.is(backoffDelay(1000, backoff, top), 10_000);
});

Backoff('waits at least half the ceiling: the other half is random, so nodes do not retry in step', () => {
  assert.equal([1, 3, 9].map((n) => backoffDelay(n, backoff, () => 0)), [125, 500, 5000]);
  const spread = new Set(Array.from({ length: 50 }, (_, i) => backoffDelay(4, backoff, () => i / 50)));
  assert.ok(spread.size > 40);
  for (const d of spread) assert.ok(d >= 1000 && d <= 2000, String(d));
});

Backoff('treats a first call with no failures like the first failure', () => {
  assert.is(backoffDelay(0, backoff, () => 0), 125);
});

Backoff.run();
