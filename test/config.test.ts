import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hostname } from 'node:os';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BUNDLED_CONTENT_DIR,
  COMMAND_SETTINGS,
  DEFAULT_DB_PATH,
  flagAttribute,
  loadConfig,
  loadFleetConfig,
  makeConfig,
  SETTINGS,
} from '../src/config.ts';

const Layers = suite('loadConfig: defaults, then environment, then flags');

Layers('starts from the schema defaults, which nothing else declares', () => {
  const config = loadConfig({ env: {}, flags: {}, only: COMMAND_SETTINGS.serve });
  assert.equal(config, makeConfig());
  assert.is(config.persistencePath, DEFAULT_DB_PATH);
  assert.equal([config.port, config.host, config.logFormat], [9999, '127.0.0.1', 'auto']);
  assert.ok(Object.isFrozen(config));
});

Layers('takes the database from WEBRTC_MONITOR_DB for every command that opens one, and a flag over it', () => {
  for (const [command, only] of Object.entries(COMMAND_SETTINGS)) {
    assert.is(loadConfig({ env: { WEBRTC_MONITOR_DB: '/srv/x.db' }, flags: {}, only }).persistencePath, '/srv/x.db', command);
    assert.is(loadConfig({ env: { WEBRTC_MONITOR_DB: '/srv/x.db' }, flags: { persistencePath: 'y.db' }, only }).persistencePath, 'y.db', command);
  }
});

Layers('reads numbers, lists and booleans from the environment, naming the variable when one is wrong', () => {
  const config = loadConfig({ env: { WEBRTC_MONITOR_ALLOWED_HOSTS: 'a.example, b.example', WEBRTC_MONITOR_LOG_FORMAT: 'json' }, only: COMMAND_SETTINGS.serve });
  assert.equal(config.allowedHosts, ['a.example', 'b.example']);
  assert.is(config.logFormat, 'json');
  assert.throws(() => loadConfig({ env: { WEBRTC_MONITOR_LOG_LEVEL: 'loud' }, only: COMMAND_SETTINGS.serve }), /WEBRTC_MONITOR_LOG_LEVEL \(logLevel\)/);
  assert.throws(() => loadConfig({ env: {}, flags: { port: 70000 }, only: COMMAND_SETTINGS.serve }), /--port \(port\)/);
});

Layers('reads only the settings a command uses, so an unrelated variable cannot fail it', () => {
  const env = { WEBRTC_MONITOR_AUTH_TOKEN_FILE: '/nonexistent/token', WEBRTC_MONITOR_NODE_ID: 'not a name', WEBRTC_MONITOR_DB: 'q.db' };
  assert.is(loadConfig({ env, only: COMMAND_SETTINGS.query }).persistencePath, 'q.db');
  assert.throws(() => loadConfig({ env, only: COMMAND_SETTINGS.serve }), /WEBRTC_MONITOR_AUTH_TOKEN_FILE/);
});

Layers('takes a token from a file or a variable, the variable over its file and a flag over both', () => {
  const fromEnv = loadConfig({ env: { WEBRTC_MONITOR_READ_TOKEN: 'env-reader' }, only: COMMAND_SETTINGS.serve });
  assert.is(fromEnv.readToken, 'env-reader');
  const flagged = loadConfig({ env: { WEBRTC_MONITOR_AUTH_TOKEN: 'env-admin' }, flags: { authToken: 'flag-admin' }, only: COMMAND_SETTINGS.serve });
  assert.is(flagged.authToken, 'flag-admin');
  assert.throws(() => loadConfig({ flags: { authTokenFile: '/nonexistent/token' }, only: COMMAND_SETTINGS.serve }), /cannot read the token file \/nonexistent\/token \(--auth-token-file\)/);
});

Layers('lets --debug mean debug logging unless a level is given', () => {
  assert.is(loadConfig({ flags: { debug: true }, only: COMMAND_SETTINGS.serve }).logLevel, 'debug');
  assert.is(loadConfig({ env: { WEBRTC_MONITOR_LOG_LEVEL: 'warn' }, flags: { debug: true }, only: COMMAND_SETTINGS.serve }).logLevel, 'warn');
});

Layers('finds the bundled content from the package, not the working directory', () => {
  assert.ok(existsSync(join(BUNDLED_CONTENT_DIR, 'sample.webm')));
  assert.is(makeConfig().contentDir, BUNDLED_CONTENT_DIR);
});

Layers('names every flag after commander\'s attribute for it', () => {
  assert.is(flagAttribute('--persistence-path <file>'), 'persistencePath');
  assert.is(flagAttribute('--allowed-host <name...>'), 'allowedHost');
  assert.is(flagAttribute('--debug'), 'debug');
  for (const source of Object.values(SETTINGS)) assert.ok(!source?.flag || source.flag.startsWith('--'), source?.flag);
});

Layers.run();

const Forwarding = suite('config: forwarding to the fleet');

Forwarding('does not forward unless asked, and names the node after the host', () => {
  const config = makeConfig();
  assert.is(config.forwardTo, null);
  assert.is(config.nodeId, hostname());
});

Forwarding('takes the central database and the node name from the environment, flags over environment', () => {
  const env = { WEBRTC_MONITOR_FORWARD_TO: 'postgres://centre/fleet', WEBRTC_MONITOR_NODE_ID: 'edge-1' };
  const fromEnv = loadConfig({ env, flags: { forwardTo: undefined, nodeId: undefined }, only: COMMAND_SETTINGS.serve });
  assert.is(fromEnv.forwardTo, 'postgres://centre/fleet');
  assert.is(fromEnv.nodeId, 'edge-1');
  const flagged = loadConfig({ env, flags: { forwardTo: 'postgresql://other/db', nodeId: 'edge-2' }, only: COMMAND_SETTINGS.serve });
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

const Webhooks = suite('config: webhooks');
const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

Webhooks('takes endpoints from repeated flags or a comma-separated variable, and the secret from a file or the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wrm-config-'));
  try {
    const file = join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const flagged = loadConfig({ flags: { webhook: ['http://a.example/h', 'https://b.example/h'], webhookSecretFile: file }, only: COMMAND_SETTINGS.serve });
    assert.equal(flagged.webhooks, ['http://a.example/h', 'https://b.example/h']);
    assert.is(flagged.webhookSecret, SECRET);
    const env = loadConfig({ env: { WEBRTC_MONITOR_WEBHOOKS: 'http://a.example/h, http://c.example/h', WEBRTC_MONITOR_WEBHOOK_SECRET: SECRET }, only: COMMAND_SETTINGS.serve });
    assert.equal(env.webhooks, ['http://a.example/h', 'http://c.example/h']);
    assert.is(SETTINGS.webhookSecret?.flag, undefined, 'no flag takes the secret itself: it would show in the process list');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Webhooks('refuses endpoints that are not http(s), naming the URL without its credentials', () => {
  for (const url of ['ftp://h.example/x', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url', 'http://h.example/x#frag']) {
    assert.throws(() => makeConfig({ webhooks: [url], webhookSecret: SECRET }), /webhooks/, url);
  }
  const err = (() => {
    try {
      loadConfig({ flags: { webhook: ['ftp://user:hunter2@h.example/x'] }, env: { WEBRTC_MONITOR_WEBHOOK_SECRET: SECRET }, only: COMMAND_SETTINGS.serve });
    } catch (e) {
      return e as Error;
    }
    return null;
  })();
  assert.match(err!.message, /--webhook \(webhooks\): ftp:\/\/\*\*\*@h\.example\/x must be http:\/\/ or https:\/\//);
  assert.not.match(err!.message, /hunter2/);
});

Webhooks('refuses endpoints without a secret, and a secret that is not a Standard Webhooks one, without echoing it', () => {
  assert.throws(() => makeConfig({ webhooks: ['http://h.example/x'] }), /--webhook needs a signing secret/);
  for (const secret of ['', 'whsec_short', 'whsec_not base64!!', `whsec_${Buffer.alloc(16).toString('base64')}`, `whsec_${Buffer.alloc(65).toString('base64')}`]) {
    try {
      loadConfig({ env: { WEBRTC_MONITOR_WEBHOOKS: 'http://h.example/x', WEBRTC_MONITOR_WEBHOOK_SECRET: secret }, only: COMMAND_SETTINGS.serve });
      assert.unreachable(secret);
    } catch (err) {
      assert.match((err as Error).message, secret ? /WEBRTC_MONITOR_WEBHOOK_SECRET \(webhookSecret\): must be whsec_/ : /needs a signing secret/);
      if (secret) assert.not.ok((err as Error).message.includes(secret), 'the secret is not repeated');
    }
  }
  assert.is(makeConfig({ webhooks: ['http://h.example/x'], webhookSecret: SECRET.slice(6) }).webhookSecret, SECRET.slice(6), 'the prefix is optional');
});

Webhooks.run();

const Fleet = suite('config: the fleet commands');

Fleet('needs a database URL, from the environment or a flag', () => {
  assert.throws(() => loadFleetConfig({}), /WEBRTC_MONITOR_DATABASE_URL/);
  const config = loadFleetConfig({ env: { WEBRTC_MONITOR_DATABASE_URL: 'postgres://centre/fleet' }, flags: { databaseUrl: undefined } });
  assert.is(config.databaseUrl, 'postgres://centre/fleet');
  assert.is(loadFleetConfig({ env: { WEBRTC_MONITOR_DATABASE_URL: 'postgres://centre/fleet' }, flags: { databaseUrl: 'postgres://b/c' } }).databaseUrl, 'postgres://b/c');
  assert.throws(() => loadFleetConfig({ flags: { databaseUrl: 'mysql://b/c' } }), /--database-url \(databaseUrl\): must be a postgres/);
  assert.ok(Object.isFrozen(config));
});

Fleet.run();
