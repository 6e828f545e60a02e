// Whether an offer can receive what a media stream plays. werift sends the
// file's packets as they are (no transcoding), so a stream of VP8 video can
// only be played by a viewer that offers VP8 for its video section. An offer
// that cannot receive a kind the stream plays, in every section it offers for
// that kind, is refused before anything is recorded: 406 CODEC_NOT_SUPPORTED,
// naming what the stream has and what was offered, so a player can say why
// (and never mistakes it for a malformed offer).
import { AppError } from '../errors.ts';
import type { StreamCodecs } from './serverPeer.ts';

/** The codecs (lower-case encoding names) each m-section of an SDP offers, by kind. */
export function offeredCodecs(sdp: string): { kind: string; codecs: string[] }[] {
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
  return sections.map((section) => ({
    kind: /^m=(\w+)/.exec(section)?.[1] ?? '',
    codecs: [...new Set([...section.matchAll(/^a=rtpmap:\d+ ([^/\s]+)\//gm)].map((m) => m[1].toLowerCase()))],
  }));
}

export function checkOfferCodecs(sdp: string, stream: StreamCodecs): void {
  const sections = offeredCodecs(sdp);
  for (const kind of ['video', 'audio'] as const) {
    const has = stream[kind];
    if (!has) continue;
    const offered = sections.filter((s) => s.kind === kind);
    if (offered.length === 0) continue; // the viewer does not want this kind
    if (offered.some((s) => s.codecs.includes(has))) continue;
    const listed = [...new Set(offered.flatMap((s) => s.codecs))].filter((c) => !['rtx', 'red', 'ulpfec', 'flexfec-03'].includes(c));
    throw new AppError(
      'CODEC_NOT_SUPPORTED',
      `this stream's ${kind} is ${has.toUpperCase()} and is sent as it is; the offer's ${kind} section offers ${listed.length ? listed.map((c) => c.toUpperCase()).join(', ') : 'no codec'}`,
      { kind, stream_codec: has, offered: listed },
    );
  }
}
