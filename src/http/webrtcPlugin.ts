// Placeholder until the WebRTC layer lands (issue 3): no routes, no peers.
import type { PluginFactory } from './serve.ts';

export const webrtcPlugin: PluginFactory = () => ({ name: 'webrtc' });
