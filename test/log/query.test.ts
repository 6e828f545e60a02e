import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { openReadOnly } from '../../src/log/open.ts';
import { runQuery, formatTable } from '../../src/log/query.ts';
import { isAppError } from '../../src/log/errors.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';

let store: TestStore;
const RunQuery = suite('runQuery');
RunQuery.before(async () => {
  store = freshStore();
  await store.log.append('connection:a', [{ type: 'connection.created', data: { connection_id: 'a' } }]);
});
RunQuery.after(() => store.cleanup());

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (isAppError(err)) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'ran';
};

RunQuery('returns columns and rows for a SELECT', () => {
  const db = openReadOnly(store.path);
  try {
    const r = runQuery(db, 'SELECT type, count(*) AS n FROM events GROUP BY type');
    assert.equal(r.columns, ['type', 'n']);
    assert.equal(r.rows, [{ type: 'connection.created', n: 1 }]);
  } finally {
    db.close();
  }
});

RunQuery('refuses every kind of write with READ_ONLY and leaves the file unchanged', () => {
  const before = readFileSync(store.path);
  const db = openReadOnly(store.path);
  try {
    for (const sql of [
      "INSERT INTO events (stream, version, type, data, meta, recorded_at) VALUES ('x', 1, 't', '{}', '{}', 0)",
      'DELETE FROM events',
      'UPDATE events SET type = 1',
      'DROP TABLE events',
      'DROP VIEW connection_timeline',
      'CREATE TABLE t (x)',
      'PRAGMA journal_mode = DELETE',
      'PRAGMA journal_mode(DELETE)',
      '/* sneaky */ pragma main.journal_mode=delete',
      'PRAGMA user_version = 7',
      'PRAGMA wal_checkpoint(TRUNCATE)',
      'PRAGMA optimize',
      'VACUUM',
      "ATTACH DATABASE '/tmp/x.db' AS x",
      'WITH x AS (SELECT 1) DELETE FROM events',
      'DELETE FROM events RETURNING *',
    ]) {
      assert.is(code(() => runQuery(db, sql)), '403 READ_ONLY', sql);
    }
  } finally {
    db.close();
  }
  assert.ok(readFileSync(store.path).equals(before), 'the database file is byte-identical');
  assert.is(store.db.prepare('SELECT count(*) FROM events').pluck().get(), 1);
  assert.is(store.db.pragma('user_version', { simple: true }), 0);
});

RunQuery('still answers reading pragmas, with or without an argument', () => {
  const db = openReadOnly(store.path);
  try {
    assert.equal(runQuery(db, 'PRAGMA journal_mode').rows, [{ journal_mode: 'wal' }]);
    assert.ok(runQuery(db, 'PRAGMA table_info(events)').rows.some((r) => r.name === 'recorded_at'));
    assert.equal(runQuery(db, 'PRAGMA integrity_check').rows, [{ integrity_check: 'ok' }]);
  } finally {
    db.close();
  }
});

RunQuery('answers a syntax error with SQL_ERROR, not a crash', () => {
  const db = openReadOnly(store.path);
  try {
    assert.is(code(() => runQuery(db, 'SELEC nonsense')), '400 SQL_ERROR');
    assert.is(code(() => runQuery(db, 'SELECT * FROM no_such_table')), '400 SQL_ERROR');
  } finally {
    db.close();
  }
});

RunQuery.run();

const Format = suite('formatTable');

Format('aligns columns, prints NULL and counts rows', () => {
  const text = formatTable(['a', 'bb'], [{ a: 1, bb: null }, { a: 'long value', bb: { x: 1 } }]);
  assert.is(text, ['a           bb', '----------  -------', '1           NULL', 'long value  {"x":1}', '(2 rows)', ''].join('\n'));
});

Format.run();

const Open = suite('openReadOnly');

Open('refuses a database that does not exist with NOT_FOUND instead of creating it', () => {
  assert.is(code(() => openReadOnly('/nonexistent/dir/none.db')), '404 NOT_FOUND');
});

Open.run();
