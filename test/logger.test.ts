import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatLine } from '../src/logger.ts';

const Format = suite('formatLine');

Format('turns a pino JSON line into time, level, message and key=value fields', () => {
  const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 31, 12, 0, 1, 234), msg: 'the token file can be read', file: '/etc/x y', n: 3 });
  assert.is(formatLine(line), '12:00:01.234 WARN  the token file can be read file="/etc/x y" n=3\n');
});

Format('puts an error\'s stack under its line', () => {
  const line = JSON.stringify({ level: 50, time: 0, msg: 'request failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (x.ts:1:1)' } });
  assert.is(formatLine(line), '00:00:00.000 ERROR request failed\n    Error: boom\n    at f (x.ts:1:1)\n');
});

Format('colours the level only when asked, and passes a line that is not JSON through', () => {
  assert.match(formatLine(JSON.stringify({ level: 30, time: 0, msg: 'x' }), true), '\u001b[32mINFO \u001b[0m');
  assert.is(formatLine('not json'), 'not json\n');
});

Format.run();
