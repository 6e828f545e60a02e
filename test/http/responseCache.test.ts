import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ResponseCache } from '../../src/http/responseCache.ts';

const Get = suite('ResponseCache.get');

Get('answers a text only at the log position it was built at', () => {
  const cache = new ResponseCache(1024);
  cache.set('/a?', 10, 'ten');
  assert.is(cache.get('/a?', 10), 'ten');
  assert.is(cache.get('/a?', 11), undefined);
  assert.is(cache.get('/b?', 10), undefined);
  assert.is(cache.hits, 1);
  assert.is(cache.misses, 2);
});

Get.run();

const Set = suite('ResponseCache.set');

Set('replaces the text of a key built at a later position', () => {
  const cache = new ResponseCache(1024);
  cache.set('/a?', 10, 'ten');
  cache.set('/a?', 11, 'eleven');
  assert.is(cache.count, 1);
  assert.is(cache.get('/a?', 11), 'eleven');
  assert.is(cache.bytes, ('/a?'.length + 'eleven'.length) * 2);
});

Set('evicts the least recently used entries past its byte cap', () => {
  const cache = new ResponseCache(400);
  const text = 'x'.repeat(47); // (3 + 47) * 2 = 100 bytes each
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
  cache.set('/small?', 1, 'x');
  cache.set('/big?', 1, 'x'.repeat(100));
  assert.is(cache.get('/big?', 1), undefined);
  assert.ok(cache.get('/small?', 1));
});

Set.run();
