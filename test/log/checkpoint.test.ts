import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readCheckpoint, writeCheckpoint, lowestCheckpoint } from '../../src/log/checkpoint.ts';
import { freshStore } from '../helpers/db.ts';

const Checkpoint = suite('checkpoints');

Checkpoint('start at 0, move when written, and report the lowest across consumers', () => {
  const s = freshStore();
  try {
    assert.is(readCheckpoint(s.db, 'a'), 0);
    assert.is(lowestCheckpoint(s.db), null);
    writeCheckpoint(s.db, 'a', 10);
    writeCheckpoint(s.db, 'b', 4);
    writeCheckpoint(s.db, 'a', 12);
    assert.is(readCheckpoint(s.db, 'a'), 12);
    assert.is(lowestCheckpoint(s.db), 4);
  } finally {
    s.cleanup();
  }
});

Checkpoint.run();
