// Runs a uvu suite (every *.test.ts under a folder, never the helpers) and
// exits when it is done. uvu only sets process.exitCode and waits for the
// event loop to drain, so one leaked socket would hang CI; here a leak is
// reported by name instead, and the process exits with uvu's verdict.
//
//   npm test                          everything that needs Node alone
//   npm run test:interop              the suites that need Debian packages (test/interop)
//   npm run test:reliability          the suites that need root (test/reliability)
//   npx tsx test/run.ts test/log      one folder
//   npx tsx test/run.ts test "append\.test\.ts$"
//
// `--require chromium` (aiortc, promtool, postgres, root) checks what the
// suites need before any of them is loaded: a missing one fails the run at
// once, every missing one named with the command that installs it (never a
// skip, and not only the first a suite happens to load).
import { parseArgs } from 'node:util';
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';
import { missingRequirements } from './helpers/prerequisites.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    exclude: { type: 'string', multiple: true, default: [] },
    require: { type: 'string', multiple: true, default: [] },
  },
});
const [dir = 'test', pattern = '\\.test\\.ts$'] = positionals;
const missing = missingRequirements(values.require);
if (missing.length) {
  console.error(`${dir} cannot run; what it needs is missing:\n${missing.map((m) => `  - ${m}`).join('\n')}`);
  process.exit(1);
}
// Folders (relative to `dir`) left to their own scripts.
const ignore = values.exclude.map((folder) => `^${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/|$)`);
const { suites } = await parse(dir, new RegExp(pattern), { cwd: process.cwd(), ignore });
// uvu swallows an error thrown by a suite's before hook: the suite's tests
// count as not passed, but nothing is printed and the exit code stays 0. The
// totals it prints are the witness, so they are read back here.
let printed = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  printed = (printed + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())).slice(-4096);
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
await run(suites, { bail: false });
process.stdout.write = write;
const plain = printed.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
if (!(passed + skipped === total)) {
  console.error(`${total - passed - skipped} tests did not pass (a suite whose before hook threw shows as "(0 / N)" with no failure printed)`);
  process.exitCode = 1;
}

// Name what is left open. A socket closed by the last test is released a
// turn or two later, so what is open is looked at again for up to 2 s (and
// no longer once nothing is left) before it is reported.
const open = () => process.getActiveResourcesInfo().filter((r) => !['TTYWrap', 'Timeout', 'Immediate', 'PipeWrap', 'FSReqCallback'].includes(r));
for (let i = 0; i < 100 && open().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
const left = open();
if (left.length) console.warn(`test run left open: ${left.join(', ')}`);
process.exit(process.exitCode ?? 0);
