// Feeds an RtcpLedger from a werift peer: every RTCP packet the peer's DTLS
// transports decrypt (`RTCDtlsTransport.onRtcp`, public in werift 0.24), and
// every sender report it sends, seen by wrapping the transport's `sendRtcp`
// (werift exposes no event for outgoing RTCP; test/webrtc/rtcpObserver.test.ts
// pins this against the installed werift). Only the SSRCs of this peer's
// senders are kept.
import {
  GenericNack,
  PictureLossIndication,
  RtcpPayloadSpecificFeedback,
  RtcpRrPacket,
  RtcpSrPacket,
  RtcpTransportLayerFeedback,
  type RTCDtlsTransport,
  type RTCPeerConnection,
  type RtcpPacket,
} from 'werift';
import { compactNtp, RtcpLedger } from './rtcpLedger.ts';

/** RFC 5104 section 4.3.1: FIR is payload-specific feedback with FMT 4 (werift does not export the class). */
const FIR_FMT = 4;

type SendRtcp = RTCDtlsTransport['sendRtcp'];

export class RtcpObserver {
  readonly ledger = new RtcpLedger();
  private readonly transports = new Map<RTCDtlsTransport, { unsubscribe: () => void; send: SendRtcp }>();

  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** Watches the peer's senders and transports as they are now (call after the answer is set; safe to repeat). */
  attach(pc: RTCPeerConnection): void {
    for (const sender of pc.getSenders()) this.ledger.watch(sender.ssrc);
    for (const dtls of pc.dtlsTransports) {
      if (this.transports.has(dtls)) continue;
      const { unSubscribe } = dtls.onRtcp.subscribe((packet) => this.received(packet));
      const send = dtls.sendRtcp;
      const observed: SendRtcp = (packets) => {
        const at = this.clock();
        for (const packet of packets) {
          if (packet.type === RtcpSrPacket.type) {
            const sr = packet as RtcpSrPacket;
            this.ledger.senderReportSent(sr.ssrc, compactNtp(sr.senderInfo.ntpTimestamp), at);
          }
        }
        return send.call(dtls, packets);
      };
      dtls.sendRtcp = observed;
      this.transports.set(dtls, { unsubscribe: unSubscribe, send });
    }
  }

  detach(): void {
    for (const [dtls, { unsubscribe, send }] of this.transports) {
      unsubscribe();
      dtls.sendRtcp = send;
    }
    this.transports.clear();
  }

  private received(packet: RtcpPacket): void {
    const now = this.clock();
    switch (packet.type) {
      case RtcpRrPacket.type:
      case RtcpSrPacket.type:
        for (const block of (packet as RtcpRrPacket | RtcpSrPacket).reports) this.ledger.reportReceived(block, now);
        break;
      case RtcpTransportLayerFeedback.type: {
        const feedback = (packet as RtcpTransportLayerFeedback).feedback;
        if (feedback?.count === GenericNack.count) this.ledger.nackReceived((feedback as GenericNack).mediaSourceSsrc);
        break;
      }
      case RtcpPayloadSpecificFeedback.type: {
        const feedback = (packet as RtcpPayloadSpecificFeedback).feedback as { count: number; mediaSsrc?: number; fir?: { ssrc: number }[] };
        if (feedback?.count === PictureLossIndication.count && feedback.mediaSsrc !== undefined) this.ledger.pliReceived(feedback.mediaSsrc);
        else if (feedback?.count === FIR_FMT) for (const entry of feedback.fir ?? []) this.ledger.firReceived(entry.ssrc);
        break;
      }
    }
  }
}
