// The export benchmark's anchor: the simplest possible export, every event of
// the log as one JSON line in one file, read in position order a page at a
// time. What is left between this and export-logs is the per-file work.
//
//   node --import tsx bench/dump-log.ts <database> <out file>
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { openReadOnly } from '../src/log/open.ts';
import { iterateLog } from '../src/log/read.ts';

const [path, outFile] = process.argv.slice(2);
if (!path || !outFile) throw new Error('usage: dump-log.ts <database> <out file>');
const db = openReadOnly(path);
const out = createWriteStream(outFile);
let events = 0;
for (const event of iterateLog(db, { pageSize: 2000 })) {
  events++;
  if (!out.write(`${JSON.stringify(event)}\n`)) await once(out, 'drain');
}
out.end();
await once(out, 'finish');
db.close();
process.stdout.write(`dumped ${events} events\n`);
