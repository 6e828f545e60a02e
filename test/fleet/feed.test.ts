import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeNodeCursor, encodeNodeCursor } from '../../src/fleet/feed.ts';
import { isAppError } from '../../src/errors.ts';

const Cursor = suite('per-node cursors (after, Last-Event-ID)');

Cursor('round-trip, nodes in name order', () => {
  const text = encodeNodeCursor(new Map([['edge-2', 7], ['edge-1', 120]]));
  assert.is(text, 'edge-1:120,edge-2:7');
  assert.equal([...decodeNodeCursor(text)], [['edge-1', 120], ['edge-2', 7]]);
  assert.equal([...decodeNodeCursor('')], []);
});

Cursor('anything else is a 400, never a crash', () => {
  for (const bad of ['5', 'edge-1', 'edge-1:-1', 'edge-1:1,edge-1:2', ':3', 'a b:1', 'edge-1:1e3', 'x:1234567890123456']) {
    try {
      decodeNodeCursor(bad);
      assert.unreachable(`accepted ${bad}`);
    } catch (err) {
      assert.ok(isAppError(err) && err.code === 'BAD_REQUEST', `${bad}: ${(err as Error).message}`);
    }
  }
});

Cursor('bounds how many nodes one cursor may name', () => {
  const many = Array.from({ length: 5 }, (_, i) => `n${i}:1`).join(',');
  assert.throws(() => decodeNodeCursor(many, 4));
  assert.is(decodeNodeCursor(many, 5).size, 5);
});

Cursor.run();
