import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { startTestServer } from '../helpers/server.ts';
import { GRAFANA_FILE, exposedNames, grafanaQueries, metricsNamed } from '../helpers/ops.ts';

const Dashboard = suite('ops/grafana/webrtc-monitor.json');

Dashboard('is a valid dashboard: JSON, a title and uid, panels with Prometheus queries', () => {
  const dashboard = JSON.parse(readFileSync(GRAFANA_FILE, 'utf8'));
  assert.type(dashboard.title, 'string');
  assert.type(dashboard.uid, 'string');
  assert.ok(Array.isArray(dashboard.panels) && dashboard.panels.length > 0);
  const ids = dashboard.panels.map((p: { id: number }) => p.id);
  assert.is(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    assert.ok(p.targets?.length, `${p.title} has queries`);
    assert.is(p.datasource.type, 'prometheus');
  }
});

Dashboard("names only metrics a live server's /metrics exposes", async () => {
  const server = await startTestServer();
  try {
    const exposed = exposedNames(await (await server.api('/metrics')).text());
    const queries = grafanaQueries();
    assert.ok(queries.length >= 10);
    for (const { panel, expr } of queries) {
      const names = metricsNamed(expr);
      assert.ok(names.length > 0, `${panel}: ${expr} names a metric`);
      for (const name of names) assert.ok(exposed.has(name), `${panel}: ${name} is not in /metrics`);
    }
    assert.ok(queries.some((q) => q.expr.includes('webrtc_issues_open')));
  } finally {
    await server.stop();
  }
});

Dashboard.run();
