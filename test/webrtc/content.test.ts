import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeDir, resolveContent } from '../../src/webrtc/content.ts';
import { tempDir } from '../helpers/db.ts';

const { dir, cleanup } = tempDir('wrm-content-');
const root = join(dir, 'content');
mkdirSync(root);
writeFileSync(join(root, 'hello.bin'), 'hello');
writeFileSync(join(root, 'clip.webm'), 'not really a clip');
writeFileSync(join(dir, 'secret.txt'), 'outside');
symlinkSync(join(dir, 'secret.txt'), join(root, 'escape.txt'));
const helloSha = createHash('sha256').update('hello').digest('hex');

const resolve = suite('resolveContent');

resolve('finds a file by name, with its size and SHA-256', async () => {
  const item = await resolveContent(root, 'hello.bin');
  assert.is(item.size, 5);
  assert.is(item.sha256, helloSha);
  assert.is(item.media, false);
  assert.is((await resolveContent(root, 'clip.webm')).media, true);
});

resolve('finds a file by its SHA-256', async () => {
  assert.is((await resolveContent(root, helloSha)).name, 'hello.bin');
});

resolve('answers 404 CONTENT_NOT_FOUND for a missing name or hash', async () => {
  for (const ref of ['nope.webm', 'f'.repeat(64)]) {
    const err = await resolveContent(root, ref).catch((e) => e);
    assert.is(err.status, 404);
    assert.is(err.code, 'CONTENT_NOT_FOUND');
  }
});

resolve('refuses paths that leave the directory, including through a symlink', async () => {
  for (const ref of ['../secret.txt', '/etc/passwd', 'a/../../secret.txt', '..', 'escape.txt']) {
    const err = await resolveContent(root, ref).catch((e) => e);
    assert.is(err.status, 422, ref);
  }
});
resolve.run();

const describe = suite('describeDir');
describe('lists the regular files with hashes (not symlinks), and reports a missing directory truthfully', async () => {
  const listing = await describeDir(root);
  assert.ok(listing.readable);
  assert.equal(listing.items.map((i) => i.name), ['clip.webm', 'hello.bin']);
  const missing = await describeDir(join(dir, 'nope'));
  assert.equal([missing.exists, missing.readable, missing.error], [false, false, 'ENOENT']);
});
describe.after(cleanup);
describe.run();
