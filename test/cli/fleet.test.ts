// The fleet's side of the CLI (src/cli.ts) that needs no PostgreSQL: help,
// and the clear refusals. test/interop/fleet/ runs the commands for real.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/db.ts';
import { runCli } from '../helpers/cli.ts';

const Fleet = suite('webrtc-monitor fleet and serve --forward-to');

Fleet('has --help for the fleet commands and documents the forwarding flags of serve', async () => {
  const [fleet, project, rebuild, serve] = await Promise.all([
    runCli(['fleet', '--help']),
    runCli(['fleet', 'project', '--help']),
    runCli(['fleet', 'rebuild', '--help']),
    runCli(['serve', '--help']),
  ]);
  assert.is(fleet.code, 0, fleet.stderr);
  assert.match(fleet.stdout, 'project');
  assert.match(fleet.stdout, 'rebuild');
  for (const r of [project, rebuild]) {
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, '--database-url');
    assert.match(r.stdout, 'WEBRTC_MONITOR_DATABASE_URL');
  }
  for (const flag of ['--forward-to', '--node-id', '--forward-backoff-max', 'WEBRTC_MONITOR_FORWARD_TO', 'WEBRTC_MONITOR_NODE_ID']) {
    assert.match(serve.stdout, flag);
  }
});

Fleet('refuses to run a fleet command without the central database, saying how to give it', async () => {
  const env = { WEBRTC_MONITOR_DATABASE_URL: '' };
  const [project, rebuild] = await Promise.all([runCli(['fleet', 'project'], { env }), runCli(['fleet', 'rebuild'], { env })]);
  for (const r of [project, rebuild]) {
    assert.is(r.code, 2);
    assert.match(r.stderr, '--database-url postgres://');
    assert.match(r.stderr, 'WEBRTC_MONITOR_DATABASE_URL');
  }
  const wrong = await runCli(['fleet', 'rebuild', '--database-url', 'mysql://centre/fleet']);
  assert.is.not(wrong.code, 0);
  assert.match(wrong.stderr, 'postgres://');
});

Fleet('refuses to serve with a forwarding target or node name it cannot use, before creating anything', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'never.db');
    const [target, name] = await Promise.all([
      runCli(['serve', '--port', '0', '--persistence-path', db, '--forward-to', 'centre.example:5432']),
      runCli(['serve', '--port', '0', '--persistence-path', db, '--forward-to', 'postgres://centre/fleet', '--node-id', 'no spaces']),
    ]);
    assert.is.not(target.code, 0);
    assert.match(target.stderr, 'forwardTo');
    assert.is.not(name.code, 0);
    assert.match(name.stderr, 'nodeId');
    assert.not.ok(existsSync(db), 'no database was created');
  } finally {
    cleanup();
  }
});

Fleet.run();
