// A Chrome-shaped getStats() report of one video and one audio receiver at
// second `t`, and rtcstats.js's delta compression of it (what a page with
// @jitsi/rtcstats sends each sampling interval).
export function chromeLikeReport(t: number): Record<string, Record<string, unknown>> {
  const ts = 1_700_000_000_000 + t * 1000;
  return {
    IT01V1: {
      id: 'IT01V1', timestamp: ts, type: 'inbound-rtp', kind: 'video', ssrc: 1111, trackIdentifier: 'v', mid: '0', codecId: 'CV',
      packetsReceived: 120 * t, bytesReceived: 150_000 * t, packetsLost: t >> 4, jitter: 0.004 + (t % 7) / 1000,
      jitterBufferDelay: 0.05 * t, jitterBufferEmittedCount: 30 * t, framesReceived: 30 * t, framesDecoded: 30 * t, framesDropped: t >> 5,
      keyFramesDecoded: 1 + (t >> 6), freezeCount: t >> 6, totalFreezesDuration: (t >> 6) * 0.5, totalDecodeTime: 0.002 * 30 * t,
      frameWidth: 640, frameHeight: 360, framesPerSecond: 30, nackCount: t >> 3, pliCount: t >> 6,
    },
    IT01A2: {
      id: 'IT01A2', timestamp: ts, type: 'inbound-rtp', kind: 'audio', ssrc: 2222, trackIdentifier: 'a', mid: '1', codecId: 'CA',
      packetsReceived: 50 * t, bytesReceived: 4_000 * t, packetsLost: 0, jitter: 0.002, jitterBufferDelay: 0.04 * t, jitterBufferEmittedCount: 48_000 * t,
      totalSamplesReceived: 48_000 * t, concealedSamples: 10 * (t >> 4), concealmentEvents: t >> 4,
    },
    CV: { id: 'CV', timestamp: ts, type: 'codec', mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 },
    CA: { id: 'CA', timestamp: ts, type: 'codec', mimeType: 'audio/opus', payloadType: 111, clockRate: 48000 },
    T01: { id: 'T01', timestamp: ts, type: 'transport', selectedCandidatePairId: 'CP', iceLocalUsernameFragment: 'bnch', dtlsState: 'connected', bytesReceived: 154_000 * t },
    CP: { id: 'CP', timestamp: ts, type: 'candidate-pair', state: 'succeeded', nominated: true, currentRoundTripTime: 0.001, bytesSent: 200 * t, bytesReceived: 154_000 * t, availableIncomingBitrate: 2_000_000 },
  };
}

/** rtcstats.js deltaCompression. */
export function deltaCompression(oldStats: Record<string, Record<string, unknown>>, newStatsArg: Record<string, Record<string, unknown>>) {
  const newStats = JSON.parse(JSON.stringify(newStatsArg)) as Record<string, any>;
  for (const id of Object.keys(newStats)) {
    const report = newStats[id];
    delete report.id;
    if (!oldStats[id]) continue;
    for (const name of Object.keys(report)) if (report[name] === oldStats[id][name]) delete newStats[id][name];
  }
  let timestamp = -Infinity;
  for (const id of Object.keys(newStats)) if (newStats[id].timestamp > timestamp) timestamp = newStats[id].timestamp;
  for (const id of Object.keys(newStats)) if (newStats[id].timestamp === timestamp) newStats[id].timestamp = 0;
  newStats.timestamp = timestamp;
  return newStats;
}
