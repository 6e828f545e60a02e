import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { describeError, redactUrl } from '../../src/fleet/pg.ts';

const Redact = suite('redactUrl');

Redact('hides the password and keeps everything an operator needs to recognise the database', () => {
  assert.is(redactUrl('postgres://monitor:s3cret@centre.example:5433/fleet?sslmode=require'), 'postgres://monitor:***@centre.example:5433/fleet?sslmode=require');
  assert.is(redactUrl('postgresql://monitor@centre/fleet'), 'postgresql://monitor@centre/fleet');
});

Redact('never echoes a URL it cannot parse, which may hold a password', () => {
  assert.is(redactUrl('postgres://monitor:s3cret@[bad'), '(unparseable database URL)');
});

Redact.run();

const Describe = suite('describeError');

Describe('keeps the code PostgreSQL or Node gave, and says ERROR when there is none', () => {
  assert.equal(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })), {
    code: 'ECONNREFUSED',
    message: 'connect ECONNREFUSED 127.0.0.1:5432',
  });
  assert.equal(describeError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })).code, '57P01');
  assert.equal(describeError(new Error('boom')), { code: 'ERROR', message: 'boom' });
  assert.equal(describeError('plain'), { code: 'ERROR', message: 'plain' });
});

Describe.run();
