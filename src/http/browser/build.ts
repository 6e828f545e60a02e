// Builds src/http/public/rtcstats.bundle.js, the rtcstats client for the
// player page: `npm run build:rtcstats` (esbuild). The bundle is committed
// (47 KB minified) so a fresh clone serves it with no build step, as the
// rest of src/http/public; test/http/rtcstatsBundle.test.ts rebuilds it and
// fails if the committed file differs, so it follows the locked package.
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

export const RTCSTATS_BUNDLE = fileURLToPath(new URL('../public/rtcstats.bundle.js', import.meta.url));

export const RTCSTATS_BUILD: BuildOptions = {
  entryPoints: [fileURLToPath(new URL('./rtcstats.js', import.meta.url))],
  bundle: true,
  format: 'iife',
  minify: true,
  legalComments: 'eof',
  target: ['chrome100', 'firefox100', 'safari15'],
  // @jitsi/js-utils exports "./*" as "./dist/*", a directory esbuild will not import.
  alias: { '@jitsi/js-utils/browser-detection': '@jitsi/js-utils/browser-detection/index.js' },
  logLevel: 'warning',
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { build } = await import('esbuild');
  await build({ ...RTCSTATS_BUILD, outfile: RTCSTATS_BUNDLE });
  process.stdout.write(`wrote ${RTCSTATS_BUNDLE}\n`);
}
