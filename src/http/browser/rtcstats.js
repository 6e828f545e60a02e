// The entry of the browser bundle src/http/public/rtcstats.bundle.js (built
// by `npm run build:rtcstats`, esbuild): the real rtcstats client
// (@jitsi/rtcstats) for the player page, which reports its peer connection
// over the rtcstats protocol to this server. start() must run before the
// page creates its RTCPeerConnection: rtcstats wraps the constructor.
import traceWs from '@jitsi/rtcstats/trace-ws.js';
import rtcstatsInit from '@jitsi/rtcstats/rtcstats.js';

function start({ endpoint, meeting = 'player', pollInterval = 1000, identity = {} }) {
  // IP addresses are masked by the server when it is asked to
  // (--obfuscate-ips); the SDP is sent so the trace can be joined to its
  // server connection by ICE username fragment and DTLS fingerprint.
  const trace = traceWs({ endpoint, meetingFqn: meeting, onCloseCallback: () => {}, obfuscate: false });
  rtcstatsInit({ statsEntry: trace.statsEntry }, { pollInterval, sendSdp: true });
  trace.connect();
  trace.identity('identity', null, identity);
  return trace;
}

window.webrtcMonitorRtcstats = { start };
