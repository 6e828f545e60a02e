// The interop suites never skip: this names every missing dependency at once,
// with the command that installs it, before the suites that need them fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireAiortc, requirePostgres, requireTool, TOOLS } from '../helpers/prerequisites.ts';

test('every Debian package the interop suites need is installed', () => {
  const missing: string[] = [];
  for (const check of [() => requireTool(TOOLS.chromium), requireAiortc, () => requireTool(TOOLS.promtool), requirePostgres]) {
    try {
      check();
    } catch (err) {
      missing.push((err as Error).message);
    }
  }
  assert.equal(missing, [], missing.join('\n'));
});

test.run();
