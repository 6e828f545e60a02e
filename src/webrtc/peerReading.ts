// Reads what a stats sample is built from, off a live werift peer: its
// getStats() report (transport totals, outbound-rtp per SSRC), what the
// viewer's RTCP said about each SSRC (rtcpObserver.ts), the frames the media
// source sent, and each data channel's counters and buffered amount.
import type { RTCDataChannel, RTCPeerConnection } from 'werift';
import type { RtcpLedger } from './rtcpLedger.ts';
import type { ChannelReading, PeerReading, TrackReading } from './statsSample.ts';
import { outboundRtpBySsrc, statsEntries, summarizeStats, type StatsTotals } from './statsSummary.ts';

export type ReadingSources = {
  pc: RTCPeerConnection;
  ledger: RtcpLedger;
  /** Video frames and keyframes the media source sent on a track (null if not counted). */
  framesOf(track: unknown): { frames: number; keyframes: number } | null;
  channels: Iterable<RTCDataChannel>;
  clock?: () => number;
};

export async function readPeer(sources: ReadingSources): Promise<{ reading: PeerReading; totals: StatsTotals }> {
  const entries = await statsEntries(sources.pc);
  const at = (sources.clock ?? (() => performance.now()))();
  const totals = summarizeStats(entries);
  const outbound = outboundRtpBySsrc(entries);
  const tracks: TrackReading[] = [];
  for (const transceiver of sources.pc.getTransceivers()) {
    const sender = transceiver.sender;
    if (!sender.track) continue;
    const rtp = outbound.get(sender.ssrc);
    tracks.push({
      ssrc: sender.ssrc,
      kind: sender.kind,
      mid: transceiver.mid ?? null,
      codec: sender.codec?.mimeType ?? null,
      clockRate: sender.codec?.clockRate ?? null,
      packetsSent: rtp?.packetsSent ?? 0,
      bytesSent: rtp?.bytesSent ?? 0,
      retransmittedPacketsSent: rtp?.retransmittedPacketsSent ?? 0,
      retransmittedBytesSent: rtp?.retransmittedBytesSent ?? 0,
      frames: sources.framesOf(sender.track),
      rtcp: sources.ledger.get(sender.ssrc),
    });
  }
  const channels: ChannelReading[] = [];
  for (const channel of sources.channels) {
    channels.push({
      label: channel.label,
      channelId: channel.id ?? null,
      state: channel.readyState,
      messagesSent: channel.messagesSent,
      bytesSent: channel.bytesSent,
      messagesReceived: channel.messagesReceived,
      bytesReceived: channel.bytesReceived,
      bufferedAmount: channel.bufferedAmount,
    });
  }
  return {
    reading: {
      at,
      totals: {
        bytesSent: totals.bytes_sent,
        bytesReceived: totals.bytes_received,
        packetsSent: totals.packets_sent,
        packetsReceived: totals.packets_received,
      },
      tracks,
      channels,
    },
    totals,
  };
}
