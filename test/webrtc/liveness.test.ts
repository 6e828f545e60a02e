// The liveness state machine (src/webrtc/liveness.ts), pure: counts in, changes out.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Liveness, livenessTickMs, zeroActivity, type ActivityCounts } from '../../src/webrtc/liveness.ts';

const settings = { stallAfterMs: 1000, consentTimeoutMs: 3000 };
const counts = (partial: Partial<ActivityCounts>): ActivityCounts => ({ ...zeroActivity(), ...partial });

const Observe = suite('Liveness.observe');

Observe('takes the first observation as the baseline: connecting counts as activity', () => {
  const l = new Liveness(settings);
  assert.equal(l.observe(counts({ stun: 4, dtls: 9 }), 10_000), []);
  assert.equal(l.observe(counts({ stun: 4, dtls: 9 }), 10_999), [], 'silent, but not yet for stallAfterMs');
  assert.is(l.isStalled, false);
});

Observe('reports a stall once when nothing arrives for stallAfterMs, with what was heard last', () => {
  const l = new Liveness(settings);
  l.observe(counts({ stun: 4, dtls: 9 }), 0);
  l.observe(counts({ stun: 4, dtls: 9, rtcp: 1 }), 200);
  assert.equal(l.observe(counts({ stun: 4, dtls: 9, rtcp: 1 }), 1199), []);
  const [stalled] = l.observe(counts({ stun: 4, dtls: 9, rtcp: 1 }), 1200);
  assert.equal(stalled, { type: 'stalled', silentMs: 1000, lastHeardMs: { stun: 1200, dtls: 1200, rtp: null, rtcp: 1000 } });
  assert.is(l.isStalled, true);
  assert.equal(l.observe(counts({ stun: 4, dtls: 9, rtcp: 1 }), 1500), [], 'one stall, not one per tick');
});

Observe('reports resumed with how long the stall lasted and what ended it', () => {
  const l = new Liveness(settings);
  l.observe(counts({}), 0);
  l.observe(counts({}), 1000);
  assert.equal(l.observe(counts({ stun: 1, rtcp: 2 }), 1750), [{ type: 'resumed', stalledMs: 750, via: ['stun', 'rtcp'] }]);
  assert.is(l.isStalled, false);
  // Silence counts again from the activity.
  assert.equal(l.observe(counts({ stun: 1, rtcp: 2 }), 2749), []);
  assert.is(l.observe(counts({ stun: 1, rtcp: 2 }), 2750)[0].type, 'stalled');
});

Observe('expires consent after consentTimeoutMs of silence, once, and then reports nothing more', () => {
  const l = new Liveness(settings);
  l.observe(counts({ dtls: 1 }), 0);
  assert.is(l.observe(counts({ dtls: 1 }), 1000)[0].type, 'stalled');
  assert.equal(l.observe(counts({ dtls: 1 }), 3000), [{ type: 'consent_expired', silentMs: 3000 }]);
  assert.is(l.hasExpired, true);
  assert.equal(l.observe(counts({ dtls: 2 }), 3100), [], 'too late: the connection has failed');
});

Observe('reports both the stall and the expiry when one observation finds both passed (a blocked event loop)', () => {
  const l = new Liveness(settings);
  l.observe(counts({}), 0);
  assert.equal(l.observe(counts({}), 5000).map((c) => c.type), ['stalled', 'consent_expired']);
});

Observe('never stalls a connection that keeps hearing anything, however little of each kind', () => {
  const l = new Liveness(settings);
  l.observe(counts({}), 0);
  const kinds = ['stun', 'dtls', 'rtp', 'rtcp'] as const;
  const c = counts({});
  for (let t = 900; t <= 20_000; t += 900) {
    c[kinds[(t / 900) % 4]]++;
    assert.equal(l.observe(c, t), [], `at ${t} ms`);
  }
});

Observe.run();

const Tick = suite('livenessTickMs');

Tick('looks ten times per shorter limit, between 20 and 250 ms', () => {
  assert.is(livenessTickMs({ stallAfterMs: 5000, consentTimeoutMs: 30_000 }), 250);
  assert.is(livenessTickMs({ stallAfterMs: 1500, consentTimeoutMs: 4000 }), 150);
  assert.is(livenessTickMs({ stallAfterMs: 60_000, consentTimeoutMs: 800 }), 80);
  assert.is(livenessTickMs({ stallAfterMs: 50, consentTimeoutMs: 100 }), 20);
});

Tick.run();
