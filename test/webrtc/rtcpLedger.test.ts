// The RTCP ledger (src/webrtc/rtcpLedger.ts), pure: report blocks and
// feedback in, per-SSRC state out; RTT from LSR/DLSR against our own SR times.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compactNtp, RtcpLedger, signed24, SR_HISTORY, type ReportBlock } from '../../src/webrtc/rtcpLedger.ts';

const SSRC = 0xdeadbeef;
const block = (partial: Partial<ReportBlock> = {}): ReportBlock => ({ ssrc: SSRC, fractionLost: 0, packetsLost: 0, jitter: 0, lsr: 0, dlsr: 0, ...partial });

const Ledger = suite('RtcpLedger');

Ledger('knows nothing of an SSRC it does not watch, and nothing but zeros and nulls before a report', () => {
  const l = new RtcpLedger();
  l.reportReceived(block(), 1);
  assert.is(l.get(SSRC), null);
  l.watch(SSRC);
  assert.equal(l.get(SSRC), { reports: 0, fractionLost: null, packetsLost: null, jitter: null, rttMs: null, rttMeasurements: 0, nack: 0, pli: 0, fir: 0 });
});

Ledger('keeps the latest report block: fraction lost out of 256, signed cumulative loss, jitter in RTP units', () => {
  const l = new RtcpLedger();
  l.watch(SSRC);
  l.reportReceived(block({ fractionLost: 64, packetsLost: 12, jitter: 900 }), 10);
  l.reportReceived(block({ fractionLost: 128, packetsLost: 0xffffff, jitter: 450 }), 20);
  const t = l.get(SSRC)!;
  assert.equal([t.reports, t.fractionLost, t.packetsLost, t.jitter], [2, 0.5, -1, 450]);
  assert.is(t.rttMs, null, 'LSR 0: no sender report reached the viewer yet');
});

Ledger('computes RTT = A - (time our SR left) - DLSR for every report that echoes one of our recent SRs', () => {
  const l = new RtcpLedger();
  l.watch(SSRC);
  l.senderReportSent(SSRC, 0x1111_0001, 1000);
  l.senderReportSent(SSRC, 0x1111_0002, 2000);
  // Echoes the older SR, held 500 ms by the viewer, received 512 ms after it left: 12 ms.
  l.reportReceived(block({ lsr: 0x1111_0001, dlsr: 0.5 * 65536 }), 1512);
  assert.is(l.get(SSRC)!.rttMs, 12);
  l.reportReceived(block({ lsr: 0x1111_0002, dlsr: 0.25 * 65536 }), 2253);
  assert.equal([l.get(SSRC)!.rttMs, l.get(SSRC)!.rttMeasurements], [3, 2]);
  // An echo of an SR it never saw from us leaves the last RTT as it was.
  l.reportReceived(block({ lsr: 0x2222_0000, dlsr: 1 }), 3000);
  assert.equal([l.get(SSRC)!.rttMs, l.get(SSRC)!.rttMeasurements, l.get(SSRC)!.reports], [3, 2, 3]);
});

Ledger('gives no RTT for an LSR two recent SRs share, rather than a wrong one', () => {
  const l = new RtcpLedger();
  l.watch(SSRC);
  l.senderReportSent(SSRC, 0x3333_0000, 1000);
  l.senderReportSent(SSRC, 0x3333_0000, 1800);
  l.reportReceived(block({ lsr: 0x3333_0000, dlsr: 100 }), 2000);
  assert.is(l.get(SSRC)!.rttMs, null);
});

Ledger(`remembers the last ${SR_HISTORY} sender reports per SSRC`, () => {
  const l = new RtcpLedger();
  l.watch(SSRC);
  for (let i = 1; i <= SR_HISTORY + 1; i++) l.senderReportSent(SSRC, i, i * 1000);
  l.reportReceived(block({ lsr: 1, dlsr: 0 }), 50_000);
  assert.is(l.get(SSRC)!.rttMs, null, 'the oldest was forgotten');
  l.reportReceived(block({ lsr: 2, dlsr: 0 }), 2010);
  assert.is(l.get(SSRC)!.rttMs, 10);
});

Ledger('clamps a loopback RTT a hair below zero (rounding of DLSR) to zero', () => {
  const l = new RtcpLedger();
  l.watch(SSRC);
  l.senderReportSent(SSRC, 7, 1000);
  l.reportReceived(block({ lsr: 7, dlsr: 65 }), 1000.5);
  assert.is(l.get(SSRC)!.rttMs, 0);
});

Ledger('counts NACK, PLI and FIR per SSRC', () => {
  const l = new RtcpLedger();
  l.watch(SSRC);
  l.nackReceived(SSRC);
  l.nackReceived(SSRC);
  l.pliReceived(SSRC);
  l.firReceived(SSRC);
  l.pliReceived(42);
  const t = l.get(SSRC)!;
  assert.equal([t.nack, t.pli, t.fir], [2, 1, 1]);
});

Ledger.run();

const Bits = suite('RTCP field helpers');

Bits('reads the 24-bit cumulative loss as signed (RFC 3550 6.4.1)', () => {
  assert.is(signed24(0), 0);
  assert.is(signed24(0x7fffff), 0x7fffff);
  assert.is(signed24(0x800000), -0x800000);
  assert.is(signed24(0xfffffe), -2);
});

Bits('takes the middle 32 bits of an NTP timestamp, as a report echoes them in LSR', () => {
  assert.is(compactNtp(0xaabbccdd_eeff0011n), 0xccddeeff);
  assert.is(compactNtp(0n), 0);
});

Bits.run();
