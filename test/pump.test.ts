import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Pump } from '../src/pump.ts';

/** A pass that stays in flight until the test lets it end. */
function gatedPasses() {
  const gates: Array<() => void> = [];
  let started = 0;
  let inFlight = 0;
  let most = 0;
  const pass = () => {
    started++;
    inFlight++;
    most = Math.max(most, inFlight);
    return new Promise<void>((resolve) =>
      gates.push(() => {
        inFlight--;
        resolve();
      }),
    );
  };
  return { pass, gates, started: () => started, most: () => most };
}

const Kick = suite('Pump.kick');

Kick('runs one pass at a time: kicks during a pass ask for exactly one more after it', async () => {
  const p = gatedPasses();
  const pump = new Pump(p.pass);
  pump.kick();
  pump.kick();
  pump.kick();
  assert.is(p.started(), 1);
  p.gates.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.is(p.started(), 2, 'the kicks that came during the first pass start one more');
  p.gates.shift()!();
  await pump.idle();
  assert.is(p.started(), 2);
  assert.is(p.most(), 1, 'never two passes side by side');
});

const Retry = suite('Pump.retryIn');

Retry('holds kicks back until the retry fires, which runs the pass', async () => {
  let passes = 0;
  let fired!: () => void;
  const firedOnce = new Promise<void>((r) => (fired = r));
  const pump = new Pump(async () => {
    passes++;
    if (passes === 2) fired();
  });
  pump.kick();
  await pump.idle();
  pump.retryIn(5);
  assert.ok(pump.retrying);
  pump.kick();
  assert.is(passes, 1, 'a kick while a retry waits starts nothing');
  await firedOnce;
  await pump.idle();
  assert.is(passes, 2);
  assert.not.ok(pump.retrying);
});

const Close = suite('Pump.close');

Close('cancels a waiting retry, says so, and refuses later kicks; a final pass still runs', async () => {
  let passes = 0;
  const pump = new Pump(async () => {
    passes++;
  });
  pump.retryIn(60_000);
  assert.is(pump.close(), true, 'a retry was waiting: the work was failing');
  assert.not.ok(pump.retrying);
  pump.kick();
  pump.retryIn(1);
  assert.is(passes, 0);
  let drained = 0;
  pump.finalPass(async () => {
    drained++;
  });
  await pump.idle();
  assert.is(drained, 1);
  assert.is(passes, 0);
});

Close('lets the pass in flight end and does not start the one asked for during it', async () => {
  const p = gatedPasses();
  const pump = new Pump(p.pass);
  pump.kick();
  pump.kick();
  assert.is(pump.close(), false);
  pump.finalPass(p.pass);
  assert.is(p.started(), 1, 'no final pass beside the one in flight');
  p.gates.shift()!();
  await pump.idle();
  assert.is(p.started(), 1);
});

Kick.run();
Retry.run();
Close.run();
