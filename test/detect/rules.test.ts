import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { DEFAULT_RULES, loadRulesFile, parseRules } from '../../src/detect/rules.ts';
import { RulesHolder, RULES_STREAM } from '../../src/detect/rulesHolder.ts';
import { freshStore, tempDir } from '../helpers/db.ts';

const Parse = suite('parseRules');

Parse('an empty file means the documented defaults', () => {
  const r = parseRules({});
  assert.ok(r.ok);
  if (r.ok) assert.equal(r.rules, DEFAULT_RULES);
  assert.is(DEFAULT_RULES.high_loss.threshold, 5);
  assert.is(DEFAULT_RULES.stalled.hold_ms, 5000);
});

Parse('a file names only what it changes; the rest keeps its default', () => {
  const r = parseRules({ high_loss: { threshold: 2 } });
  assert.ok(r.ok && r.rules.high_loss.threshold === 2 && r.rules.high_loss.window_ms === DEFAULT_RULES.high_loss.window_ms);
});

Parse('refuses a misspelt key and a bad value, naming each', () => {
  const r = parseRules({ high_los: {}, stalled: { hold_ms: -1 } });
  assert.not.ok(r.ok);
  if (!r.ok) {
    assert.match(r.error, /high_los/);
    assert.match(r.error, /stalled\.hold_ms/);
  }
});

const Load = suite('loadRulesFile');

Load('refuses a file that is not JSON, or is missing, with a message naming the file', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'rules.json');
    writeFileSync(path, '{ nope');
    const bad = loadRulesFile(path);
    assert.ok(!bad.ok && bad.error.includes(path) && /not valid JSON/.test(bad.error));
    const missing = loadRulesFile(join(dir, 'absent.json'));
    assert.ok(!missing.ok && /ENOENT/.test(missing.error));
  } finally {
    cleanup();
  }
});

const Holder = suite('RulesHolder.reload');

Holder('takes a good file, refuses a bad one keeping the rules in force, and records both outcomes', async () => {
  const store = await freshStore();
  const path = join(store.dir, 'rules.json');
  try {
    writeFileSync(path, JSON.stringify({ high_rtt: { threshold: 250 } }));
    const holder = new RulesHolder(path, store.log, pino({ level: 'silent' }));
    const changes: number[] = [];
    holder.onChange((r) => changes.push(r.high_rtt.threshold));
    assert.ok((await holder.reload('signal')).ok);
    assert.is(holder.current.high_rtt.threshold, 250);
    const digest = holder.digest;

    writeFileSync(path, JSON.stringify({ high_rtt: { threshold: 'high' } }));
    const refused = await holder.reload('admin');
    assert.not.ok(refused.ok);
    assert.is(holder.current.high_rtt.threshold, 250, 'the rules in force stay');
    assert.equal(changes, [250]);

    const events = await store.log.readStream(RULES_STREAM);
    assert.equal(events.map((e) => e.type === 'rules.reloaded' && [e.data.ok, e.data.trigger, e.data.digest]), [
      [true, 'signal', digest],
      [false, 'admin', digest],
    ]);
    const last = events[1];
    assert.ok(last.type === 'rules.reloaded' && /high_rtt\.threshold/.test(last.data.error ?? ''));
  } finally {
    await store.cleanup();
  }
});

Parse.run();
Load.run();
Holder.run();
