import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { safePart, fileTimestamp, connectionFileName, operationFileName, exportDirFor } from '../../src/export/paths.ts';
import { makeConfig } from '../../src/config.ts';
import { resolve, join } from 'node:path';

const Safe = suite('safePart');

Safe('keeps plain ids as they are', () => {
  assert.is(safePart('8d5c0b1e-4f2a-4c1b-9a0e-2b7d6f1c3a99'), '8d5c0b1e-4f2a-4c1b-9a0e-2b7d6f1c3a99');
  assert.is(safePart('close_all'), 'close_all');
});

Safe('turns hostile ids into distinct names of safe characters, at most ~90 long', () => {
  const hostile = ['../../x', '..', '.', '', 'a/b', 'a\\b', 'a_b_', 'a\tb', 'a\nb', 'a%2Fb', '%', 'x'.repeat(300), 'x'.repeat(301), 'CON', 'ünï', 'a b', 'a_b'];
  const names = hostile.map(safePart);
  assert.is(new Set(names).size, hostile.length, JSON.stringify(names));
  for (const n of names) {
    assert.match(n, /^[A-Za-z0-9_-]+$/);
    assert.ok(n.length <= 91, `${n.length}`);
  }
});

Safe.run();

const Names = suite('file names');

Names('start with a sortable UTC timestamp without colons', () => {
  assert.is(fileTimestamp('2026-11-24T08:03:12.345Z'), '20261124T080312.345Z');
  assert.is(connectionFileName('2026-01-02T03:04:05.006Z', 'abc'), '20260102T030405.006Z_abc.json');
  assert.is(operationFileName('2026-01-02T03:04:05.006Z', 'close/all', 'id1'), `20260102T030405.006Z_${safePart('close/all')}_id1.json`);
});

Names.run();

const Dir = suite('exportDirFor');

Dir('writes into --log-dir when set, else exports/ beside the database', () => {
  assert.is(exportDirFor(makeConfig({ logDir: 'logs' })), resolve('logs'));
  assert.is(exportDirFor(makeConfig({ persistencePath: '/tmp/x/db.sqlite' })), join('/tmp/x', 'exports'));
});

Dir.run();
