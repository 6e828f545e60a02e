// Counts what arrives from a peer, by kind, for the liveness watchdog:
//  - every datagram werift's ICE connection hands up (`onData`: everything
//    that is not STUN), sorted by its first bytes as RFC 7983 demultiplexes
//    them: 20-63 DTLS (handshake, alerts and the SCTP data channels inside),
//    128-191 RTP or RTCP (RTCP when the second byte, the packet type, is
//    192-223, RFC 5761 section 4);
//  - STUN binding requests (the viewer's connectivity and consent checks),
//    which werift counts per candidate pair (`requestsReceived`, public in
//    werift 0.24) and which are read when the counts are.
// A counter per packet is all the hot path pays; the watchdog reads the
// counts on its own tick.
import type { RTCPeerConnection } from 'werift';
import { zeroActivity, type ActivityCounts } from './liveness.ts';

export class ActivityProbe {
  private readonly counts = zeroActivity();
  private readonly unsubscribes: (() => void)[] = [];
  private readonly watched = new Set<unknown>();

  constructor(private readonly pc: RTCPeerConnection) {}

  /** Subscribes to the ICE transports that exist now (call again after negotiation; each is watched once). */
  attach(): void {
    for (const transport of this.pc.iceTransports) {
      const connection = transport.connection;
      if (this.watched.has(connection)) continue;
      this.watched.add(connection);
      const { unSubscribe } = connection.onData.subscribe((data: Buffer) => this.count(data));
      this.unsubscribes.push(unSubscribe);
    }
  }

  /** Cumulative counts so far. */
  read(): ActivityCounts {
    let stun = 0;
    for (const transport of this.pc.iceTransports) {
      for (const pair of transport.connection.checkList) stun += pair.requestsReceived;
    }
    return { ...this.counts, stun };
  }

  detach(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.watched.clear();
  }

  private count(data: Buffer): void {
    const first = data[0];
    if (first >= 128 && first <= 191) {
      const type = data[1];
      if (type >= 192 && type <= 223) this.counts.rtcp++;
      else this.counts.rtp++;
    } else if (first >= 20 && first <= 63) {
      this.counts.dtls++;
    }
  }
}
