// The WebRTC plugin: builds the WebRTC service from the server's services,
// brings its routers (controller, WHEP, player page, test route), and at
// shutdown closes every peer through the operation runner (initiator
// `shutdown`) while the runner still accepts work.
import type { PluginFactory } from './serve.ts';
import { WebRtcService } from '../webrtc/service.ts';
import { webrtcApi, webrtcRouter, webrtcTestApi, webrtcTestRouter } from './routes/webrtc.ts';
import { whepApi, whepRouter } from './routes/whep.ts';
import { playerApi, playerRouter } from './routes/player.ts';
import { httpConnectionCap } from './limits.ts';
import { guardProcess } from './processGuard.ts';

export const webrtcPlugin: PluginFactory = (services) => {
  const webrtc = new WebRtcService({
    config: services.config,
    log: services.store,
    runner: services.runner,
    logger: services.logger,
    httpConnections: httpConnectionCap(services.config),
  });
  let unguard: (() => void) | null = null;
  return {
    name: 'webrtc',
    routers: [
      (s) => webrtcRouter(s, webrtc),
      (s) => whepRouter(s, webrtc),
      (s) => playerRouter(s, webrtc),
      (s) => webrtcTestRouter(s, webrtc),
    ],
    viewerTokens: { streamWithToken: (sha256) => webrtc.registry.streamWithViewerToken(sha256) },
    // The test route exists (and is described) only when enabled.
    api: [webrtcApi(services.config), whepApi, playerApi, ...(services.config.debug || services.config.enableTestRoutes ? [webrtcTestApi] : [])],
    async start() {
      webrtc.start();
      // werift's sockets fail with EMFILE as unhandled 'error' events: the
      // guard reports them here, and negotiations in flight end with a 503.
      unguard = guardProcess(services.logger, (err) => webrtc.resourcesExhausted(err));
      const { maxPeers, derivedMaxPeers, fdLimit, fdsPerPeer } = webrtc.budget;
      if (derivedMaxPeers !== null && maxPeers > derivedMaxPeers) {
        services.logger.warn(
          { maxPeers, derivedMaxPeers, fdLimit, fdsPerPeer },
          'the peer cap is above what the open-file limit (ulimit -n) allows; connects past it are refused when sockets run out',
        );
      } else {
        services.logger.debug({ maxPeers, fdLimit, fdsPerPeer }, 'peer admission');
      }
    },
    async shutdown() {
      await webrtc.shutdown();
      unguard?.();
    },
  };
};
