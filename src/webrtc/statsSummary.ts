import type { RTCPeerConnection } from 'werift';

// A W3C stats report (from werift's getStats) boiled down to the numbers the
// monitor shows. Works for either end: the server reads loss, RTT and jitter
// from the viewer's receiver reports (remote-inbound-rtp), a viewer from its
// own inbound-rtp.

export type StatsTotals = {
  bytes_sent: number;
  bytes_received: number;
  packets_sent: number;
  packets_received: number;
  packets_lost: number;
  rtt_ms: number | null;
  jitter_ms: number | null;
  dtls_state: string | null;
  ice_state: string | null;
  /** STUN binding requests received on all candidate pairs (the remote's consent checks). */
  ice_requests_received: number;
  selected_pair: { local: string; remote: string } | null;
  data_channel: { messages_sent: number; bytes_sent: number; messages_received: number; bytes_received: number } | null;
  rtp: { kind: string; direction: 'outbound' | 'inbound'; packets: number; bytes: number }[];
};

type Stat = Record<string, unknown> & { type: string; id: string };

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const round = (v: number) => Math.round(v * 1000) / 1000;

export function summarizeStats(report: Iterable<[string, unknown]> | Map<string, unknown>): StatsTotals {
  const stats: Stat[] = [];
  for (const [, v] of report as Iterable<[string, unknown]>) stats.push(v as Stat);
  const byId = new Map(stats.map((s) => [s.id, s]));
  const out: StatsTotals = {
    bytes_sent: 0,
    bytes_received: 0,
    packets_sent: 0,
    packets_received: 0,
    packets_lost: 0,
    rtt_ms: null,
    jitter_ms: null,
    dtls_state: null,
    ice_state: null,
    ice_requests_received: 0,
    selected_pair: null,
    data_channel: null,
    rtp: [],
  };
  let jitterMax: number | null = null;
  let rtt: number | null = null;
  for (const s of stats) {
    switch (s.type) {
      case 'transport': {
        // Transport totals: SRTP/SRTCP (see the data-channel note below).
        out.bytes_sent += num(s.bytesSent);
        out.bytes_received += num(s.bytesReceived);
        out.packets_sent += num(s.packetsSent);
        out.packets_received += num(s.packetsReceived);
        out.dtls_state = (s.dtlsState as string) ?? out.dtls_state;
        out.ice_state = (s.iceState as string) ?? out.ice_state;
        const pair = byId.get(s.selectedCandidatePairId as string);
        if (pair) {
          const local = byId.get(pair.localCandidateId as string);
          const remote = byId.get(pair.remoteCandidateId as string);
          if (local && remote) out.selected_pair = { local: describeCandidate(local), remote: describeCandidate(remote) };
          if (num(pair.currentRoundTripTime) > 0) rtt = num(pair.currentRoundTripTime) * 1000;
        }
        break;
      }
      case 'candidate-pair':
        out.ice_requests_received += num(s.requestsReceived);
        break;
      case 'outbound-rtp':
        out.rtp.push({ kind: String(s.kind), direction: 'outbound', packets: num(s.packetsSent), bytes: num(s.bytesSent) });
        break;
      case 'inbound-rtp':
        if (num(s.packetsReceived) === 0) break; // werift lists an idle receiver for every sending transceiver
        out.rtp.push({ kind: String(s.kind), direction: 'inbound', packets: num(s.packetsReceived), bytes: num(s.bytesReceived) });
        out.packets_lost += num(s.packetsLost);
        if (typeof s.jitter === 'number') jitterMax = Math.max(jitterMax ?? 0, s.jitter * 1000);
        break;
      case 'remote-inbound-rtp':
        out.packets_lost += num(s.packetsLost);
        if (typeof s.jitter === 'number') jitterMax = Math.max(jitterMax ?? 0, s.jitter * 1000);
        if (num(s.roundTripTime) > 0) rtt = num(s.roundTripTime) * 1000;
        break;
      case 'data-channel': {
        const dc = (out.data_channel ??= { messages_sent: 0, bytes_sent: 0, messages_received: 0, bytes_received: 0 });
        dc.messages_sent += num(s.messagesSent);
        dc.bytes_sent += num(s.bytesSent);
        dc.messages_received += num(s.messagesReceived);
        dc.bytes_received += num(s.bytesReceived);
        break;
      }
    }
  }
  if (out.data_channel) {
    // werift's transport counters cover SRTP only, not SCTP: add the data
    // channels' bytes and messages so the totals are what crossed the wire.
    out.bytes_sent += out.data_channel.bytes_sent;
    out.bytes_received += out.data_channel.bytes_received;
    out.packets_sent += out.data_channel.messages_sent;
    out.packets_received += out.data_channel.messages_received;
  }
  out.rtt_ms = rtt === null ? null : round(rtt);
  out.jitter_ms = jitterMax === null ? null : round(jitterMax);
  return out;
}

function describeCandidate(c: Stat): string {
  return `${c.candidateType ?? '?'} ${c.protocol ?? 'udp'} ${c.address ?? '?'}:${c.port ?? '?'}`;
}

/**
 * getStats() of a peer, summarised. werift 0.24 leaves the transport out of
 * the report of a data-channel-only peer (its stats list only the media
 * transports), so in that case the SCTP transport's DTLS stats are added.
 */
export async function peerStats(pc: RTCPeerConnection): Promise<StatsTotals> {
  return summarizeStats(await statsEntries(pc));
}

/** getStats() entries of a peer, with the SCTP transport's when werift leaves it out (see peerStats). */
export async function statsEntries(pc: RTCPeerConnection): Promise<[string, unknown][]> {
  const entries: [string, unknown][] = [...(await pc.getStats()).entries()];
  if (!entries.some(([, s]) => (s as Stat).type === 'transport') && pc.sctpTransport) {
    const extra = (await pc.sctpTransport.dtlsTransport.getStats()) as unknown as Stat[];
    for (const s of extra) entries.push([s.id, s]);
  }
  return entries;
}

export type OutboundRtp = { packetsSent: number; bytesSent: number; retransmittedPacketsSent: number; retransmittedBytesSent: number };

/**
 * The outbound-rtp stats by SSRC. werift 0.24 leaves a retransmission counter
 * out (undefined) while it is 0 but always keeps it, so absent reads 0 here.
 */
export function outboundRtpBySsrc(entries: Iterable<[string, unknown]>): Map<number, OutboundRtp> {
  const out = new Map<number, OutboundRtp>();
  for (const [, v] of entries) {
    const s = v as Stat;
    if (s.type !== 'outbound-rtp' || typeof s.ssrc !== 'number') continue;
    out.set(s.ssrc, {
      packetsSent: num(s.packetsSent),
      bytesSent: num(s.bytesSent),
      retransmittedPacketsSent: num(s.retransmittedPacketsSent),
      retransmittedBytesSent: num(s.retransmittedBytesSent),
    });
  }
  return out;
}
