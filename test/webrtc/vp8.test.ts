import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { vp8FrameStart } from '../../src/webrtc/vp8.ts';

const test = suite('vp8FrameStart');

test('recognises a keyframe at the start of a frame', () => {
  // S=1, PID=0, no extension; VP8 header byte with P=0 (keyframe).
  assert.equal(vp8FrameStart(Buffer.from([0x10, 0x00, 0x00, 0x00])), { keyframe: true });
});

test('recognises an inter frame', () => {
  assert.equal(vp8FrameStart(Buffer.from([0x10, 0x01])), { keyframe: false });
});

test('skips the extended descriptor with a 15-bit picture id', () => {
  // X=1,S=1 | I=1 | PictureID M=1 (2 bytes) | payload header keyframe
  assert.equal(vp8FrameStart(Buffer.from([0x90, 0x80, 0x81, 0x23, 0x00])), { keyframe: true });
  assert.equal(vp8FrameStart(Buffer.from([0x90, 0x80, 0x81, 0x23, 0x01])), { keyframe: false });
});

test('returns null for a packet that continues a frame', () => {
  assert.is(vp8FrameStart(Buffer.from([0x00, 0x00])), null);
  assert.is(vp8FrameStart(Buffer.from([0x11, 0x00])), null, 'partition 1 is not the start');
  assert.is(vp8FrameStart(Buffer.alloc(0)), null);
});

test.run();
