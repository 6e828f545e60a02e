import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { openReadOnly } from '../../src/log/open.ts';
import { runQuery, runQueryWithTimeout, formatTable } from '../../src/log/query.ts';
import { isAppError } from '../../src/errors.ts';
import { freshStore, type TestStore } from '../helpers/db.ts';

let store: TestStore;
const RunQuery = suite('runQuery');
RunQuery.before(async () => {
  store = await freshStore();
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

RunQuery('refuses a writing PRAGMA whose name is quoted, naming it in the message', () => {
  const db = openReadOnly(store.path);
  try {
    for (const [sql, name] of [
      ['PRAGMA "journal_mode" = DELETE', 'journal_mode'],
      ["PRAGMA 'user_version' = 7", 'user_version'],
      ['PRAGMA [foreign_keys] = OFF', 'foreign_keys'],
      ['PRAGMA `synchronous` = OFF', 'synchronous'],
      ['PRAGMA "main"."user_version" = 9', 'user_version'],
      ['PRAGMA main."wal_checkpoint"', 'wal_checkpoint'],
    ]) {
      try {
        runQuery(db, sql);
        assert.unreachable(sql);
      } catch (err) {
        assert.ok(isAppError(err), sql);
        assert.is(`${err.status} ${err.code}`, '403 READ_ONLY', sql);
        assert.match(err.message, `PRAGMA ${name}`, sql);
      }
    }
    assert.equal(runQuery(db, 'PRAGMA "journal_mode"').rows, [{ journal_mode: 'wal' }], 'a quoted reading pragma still answers');
  } finally {
    db.close();
  }
});

RunQuery('stops a runaway query after its timeout with QUERY_TIMEOUT (its own code: a limit the caller set, not an operation deadline)', async () => {
  const endless = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
  try {
    await runQueryWithTimeout(store.path, endless, 200);
    assert.unreachable('an endless query returned');
  } catch (err) {
    assert.ok(isAppError(err));
    assert.is(err.code, 'QUERY_TIMEOUT');
  }
  assert.equal((await runQueryWithTimeout(store.path, 'SELECT count(*) AS n FROM events', 5000)).rows, [{ n: 1 }]);
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
