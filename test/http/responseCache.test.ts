import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ResponseCache } from '../../src/http/responseCache.ts';

const Get = suite('ResponseCache.get');

const b = (text: string) => Buffer.from(text);

Get('answers a body only at the log position it was built at', () => {
  const cache = new ResponseCache(1024);
  cache.set('/a?', 10, b('ten'));
  assert.is(cache.get('/a?', 10)?.toString(), 'ten');
  assert.is(cache.get('/a?', 11), undefined);
  assert.is(cache.get('/b?', 10), undefined);
  assert.is(cache.hits, 1);
  assert.is(cache.misses, 2);
});

Get.run();

const Set = suite('ResponseCache.set');

Set('replaces the body of a key built at a later position', () => {
  const cache = new ResponseCache(1024);
  cache.set('/a?', 10, b('ten'));
  cache.set('/a?', 11, b('eleven'));
  assert.is(cache.count, 1);
  assert.is(cache.get('/a?', 11)?.toString(), 'eleven');
  assert.is(cache.bytes, '/a?'.length * 2 + 'eleven'.length);
});

Set('evicts the least recently used entries past its byte cap', () => {
  const cache = new ResponseCache(400);
  const text = b('x'.repeat(94)); // 3 * 2 + 94 = 100 bytes each
  cache.set('/a?', 1, text);
  cache.set('/b?', 1, text);
  cache.set('/c?', 1, text);
  cache.set('/d?', 1, text);
  assert.ok(cache.get('/a?', 1)); // now the most recently used
  cache.set('/e?', 1, text);
  assert.is(cache.bytes, 400);
  assert.is(cache.get('/b?', 1), undefined, 'the least recently used went first');
  assert.ok(cache.get('/a?', 1));
  assert.ok(cache.get('/e?', 1));
});

Set('does not keep an answer larger than a quarter of the cap', () => {
  const cache = new ResponseCache(400);
  cache.set('/small?', 1, b('x'));
  cache.set('/big?', 1, b('x'.repeat(200)));
  assert.is(cache.get('/big?', 1), undefined);
  assert.ok(cache.get('/small?', 1));
});

Set.run();
