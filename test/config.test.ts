import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hostname } from 'node:os';
import { configFromEnv, fleetConfigFromEnv, loadConfig, loadFleetConfig, makeConfig } from '../src/config.ts';

const Forwarding = suite('config: forwarding to the fleet');

Forwarding('does not forward unless asked, and names the node after the host', () => {
  const config = makeConfig();
  assert.is(config.forwardTo, null);
  assert.is(config.nodeId, hostname());
});

Forwarding('takes the central database and the node name from the environment, flags over environment', () => {
  const env = configFromEnv({ WEBRTC_MONITOR_FORWARD_TO: 'postgres://centre/fleet', WEBRTC_MONITOR_NODE_ID: 'edge-1' });
  const fromEnv = loadConfig(env, { forwardTo: undefined, nodeId: undefined });
  assert.is(fromEnv.forwardTo, 'postgres://centre/fleet');
  assert.is(fromEnv.nodeId, 'edge-1');
  const flagged = loadConfig(env, { forwardTo: 'postgresql://other/db', nodeId: 'edge-2' });
  assert.is(flagged.forwardTo, 'postgresql://other/db');
  assert.is(flagged.nodeId, 'edge-2');
});

Forwarding('refuses a target that is not a PostgreSQL URL and node names that cannot key events', () => {
  for (const forwardTo of ['mysql://x/y', 'centre:5432', 'http://centre/fleet']) {
    assert.throws(() => makeConfig({ forwardTo }), /forwardTo/, forwardTo);
  }
  for (const nodeId of ['', 'has space', 'a:b', '-leading', 'x'.repeat(129)]) {
    assert.throws(() => makeConfig({ nodeId }), /nodeId/, nodeId);
  }
  assert.is(makeConfig({ nodeId: 'edge-1.eu_west' }).nodeId, 'edge-1.eu_west');
});

Forwarding.run();

const Fleet = suite('config: the fleet commands');

Fleet('needs a database URL, from the environment or a flag', () => {
  assert.throws(() => loadFleetConfig({}), /databaseUrl/);
  const config = loadFleetConfig(fleetConfigFromEnv({ WEBRTC_MONITOR_DATABASE_URL: 'postgres://centre/fleet' }), { databaseUrl: undefined });
  assert.is(config.databaseUrl, 'postgres://centre/fleet');
  assert.is(loadFleetConfig({ databaseUrl: 'postgres://centre/fleet' }, { databaseUrl: 'postgres://b/c' }).databaseUrl, 'postgres://b/c');
  assert.ok(Object.isFrozen(config));
});

Fleet.run();
