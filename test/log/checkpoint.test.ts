import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { dropCheckpointsExcept, hasCheckpoint, readCheckpoint, writeCheckpoint, lowestCheckpoint } from '../../src/log/checkpoint.ts';
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

Checkpoint('knows whether a consumer wrote one yet', () => {
  const s = freshStore();
  try {
    assert.is(hasCheckpoint(s.db, 'a'), false);
    writeCheckpoint(s.db, 'a', 0);
    assert.is(hasCheckpoint(s.db, 'a'), true);
  } finally {
    s.cleanup();
  }
});

Checkpoint('drops the consumers of a prefix that are no longer wanted, and only those', () => {
  const s = freshStore();
  try {
    for (const consumer of ['webhook:a', 'webhook:b', 'webhook_x', 'forwarder']) writeCheckpoint(s.db, consumer, 1);
    assert.equal(dropCheckpointsExcept(s.db, 'webhook:', ['webhook:a']), ['webhook:b']);
    assert.equal(['webhook:a', 'webhook:b', 'webhook_x', 'forwarder'].map((c) => hasCheckpoint(s.db, c)), [true, false, true, true]);
  } finally {
    s.cleanup();
  }
});

Checkpoint.run();

const WithAppend = suite('a checkpoint stored with an append');

const issue = (id: string) => ({ type: 'issue.raised' as const, data: { issue_id: id, type: 'loss', severity: 'warning' as const, subject: 'connection:c' } });

WithAppend('commits with the events, and not at all when the append is refused', async () => {
  const s = freshStore();
  try {
    const first = await s.log.append('issue:1', [issue('1')], { checkpoint: { consumer: 'webhook:k', position: 1 } });
    assert.ok(first.ok);
    assert.is(readCheckpoint(s.db, 'webhook:k'), 1);
    const conflict = await s.log.append('issue:1', [issue('1')], { expectedVersion: 'no_stream', checkpoint: { consumer: 'webhook:k', position: 99 } });
    assert.not.ok(conflict.ok);
    assert.is(readCheckpoint(s.db, 'webhook:k'), 1, 'a refused append moves no checkpoint');
    await s.log.append('issue:1', [{ type: 'issue.raised', data: { issue_id: '' } } as never], { checkpoint: { consumer: 'webhook:k', position: 98 } }).catch(() => {});
    assert.is(readCheckpoint(s.db, 'webhook:k'), 1, 'an invalid event moves no checkpoint');
  } finally {
    s.cleanup();
  }
});

WithAppend('rolls back with the events when the transaction fails', async () => {
  const s = freshStore();
  try {
    s.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.stream = 'issue:bad' BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    const refused = await s.log.append('issue:bad', [issue('bad')], { checkpoint: { consumer: 'webhook:k', position: 50 } }).then(
      () => null,
      (err: Error) => err,
    );
    assert.match(refused!.message, /refused/);
    assert.is(hasCheckpoint(s.db, 'webhook:k'), false, 'the checkpoint rolled back with the event');
  } finally {
    s.cleanup();
  }
});

WithAppend.run();
