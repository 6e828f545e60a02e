// The operations files against Prometheus's own checker (Debian's
// prometheus package): `promtool check rules` on the alerting rules, and on
// the Grafana dashboard's queries written out as recording rules (so every
// panel's PromQL parses). The alerts name only metrics a live server exposes
// (besides the forwarder's, which need --forward-to, and Prometheus's `up`).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, TOOLS } from '../../helpers/prerequisites.ts';
import { tempDir } from '../../helpers/db.ts';
import { startTestServer } from '../../helpers/server.ts';
import { ALERTS_FILE, exposedNames, grafanaQueries, metricsNamed } from '../../helpers/ops.ts';

const PROMTOOL = requireTool(TOOLS.promtool);

function checkRules(path: string) {
  const run = spawnSync(PROMTOOL, ['check', 'rules', path], { encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const Rules = suite('promtool check rules');

Rules('accepts ops/prometheus/alerts.yml', () => {
  const { status, output } = checkRules(ALERTS_FILE);
  assert.is(status, 0, output);
  assert.match(output, /SUCCESS: \d+ rules found/);
});

Rules('refuses a broken rule (the check is real)', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'bad.yml');
    writeFileSync(path, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(webrtc_issues_open{\n');
    assert.is.not(checkRules(path).status, 0);
  } finally {
    cleanup();
  }
});

Rules("every Grafana panel's query parses as PromQL", () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'grafana-queries.yml');
    const rules = grafanaQueries().map((q, i) => `      - record: grafana:query_${i}\n        expr: ${JSON.stringify(q.expr.replaceAll('$instance', '.*'))}\n`);
    writeFileSync(path, `groups:\n  - name: grafana\n    rules:\n${rules.join('')}`);
    const { status, output } = checkRules(path);
    assert.is(status, 0, output);
  } finally {
    cleanup();
  }
});

Rules("the alerts name metrics a live server's /metrics exposes", async () => {
  const server = await startTestServer();
  try {
    const exposed = exposedNames(await (await server.api('/metrics')).text());
    const names = metricsNamed(readFileSync(ALERTS_FILE, 'utf8')).filter((n) => !n.startsWith('webrtc_forwarder_'));
    assert.ok(names.includes('webrtc_issues_open') && names.includes('webrtc_issues_raised_total'));
    for (const name of names) assert.ok(exposed.has(name), `${name} is not in /metrics`);
  } finally {
    await server.stop();
  }
});

Rules.run();
