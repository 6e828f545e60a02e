// Runs the uvu suite (every test/**/*.test.ts, never the helpers) and exits
// when it is done. uvu only sets process.exitCode and waits for the event loop
// to drain, so one leaked socket would hang CI; here a leak is reported by
// name instead, and the process exits with uvu's verdict.
//
//   npm test                         the whole suite
//   npx tsx test/run.ts test/log     one folder
//   npx tsx test/run.ts test "append\.test\.ts$"
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const [dir = 'test', pattern = '\\.test\\.ts$'] = process.argv.slice(2);
const { suites } = await parse(dir, new RegExp(pattern), { cwd: process.cwd() });
await run(suites, { bail: false });

// Give sockets closed in the last test a moment to be released, then name what is left.
await new Promise((resolve) => setTimeout(resolve, 200));
const left = process
  .getActiveResourcesInfo()
  .filter((r) => !['TTYWrap', 'Timeout', 'Immediate', 'PipeWrap', 'FSReqCallback'].includes(r));
if (left.length) console.warn(`test run left open: ${left.join(', ')}`);
process.exit(process.exitCode ?? 0);
