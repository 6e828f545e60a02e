// The WebRTC plugin: builds the WebRTC service from the server's services,
// brings its routers (controller, WHEP, player page, test route), and at
// shutdown closes every peer through the operation runner (initiator
// `shutdown`) while the runner still accepts work.
import type { PluginFactory } from './serve.ts';
import { WebRtcService } from '../webrtc/service.ts';
import { webrtcRouter, webrtcTestRouter } from './routes/webrtc.ts';
import { whepRouter } from './routes/whep.ts';
import { playerRouter } from './routes/player.ts';

export const webrtcPlugin: PluginFactory = (services) => {
  const webrtc = new WebRtcService({ config: services.config, log: services.log, runner: services.runner, logger: services.logger });
  return {
    name: 'webrtc',
    routers: [
      (s) => webrtcRouter(s, webrtc),
      (s) => whepRouter(s, webrtc),
      (s) => playerRouter(s, webrtc),
      (s) => webrtcTestRouter(s, webrtc),
    ],
    async start() {
      webrtc.start();
    },
    async shutdown() {
      await webrtc.shutdown();
    },
  };
};
