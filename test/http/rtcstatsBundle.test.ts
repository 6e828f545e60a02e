// The committed rtcstats bundle is what the locked @jitsi/rtcstats builds to.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { RTCSTATS_BUILD, RTCSTATS_BUNDLE } from '../../src/http/browser/build.ts';

const Bundle = suite('the rtcstats bundle in src/http/public');

Bundle('is byte for byte what `npm run build:rtcstats` builds now', async () => {
  const result = await build({ ...RTCSTATS_BUILD, write: false, outfile: RTCSTATS_BUNDLE });
  assert.is(result.outputFiles[0].text, readFileSync(RTCSTATS_BUNDLE, 'utf8'), 'run npm run build:rtcstats and commit the bundle');
});

Bundle.run();
