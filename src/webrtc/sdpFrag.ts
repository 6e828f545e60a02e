// SDP fragments (RFC 8840, `application/trickle-ice-sdpfrag`), as WHEP and
// WHIP (RFC 9725 section 4.3) carry them in PATCH: the client's ICE
// credentials, its candidates per media section (by a=mid), and
// end-of-candidates; for an ICE restart, new credentials. Parsed strictly and
// bounded before werift sees anything.
import { AppError } from '../errors.ts';
import { MAX_OFFER_CANDIDATES } from './offerLimits.ts';

/** A fragment's lines; a candidate line is at most a few hundred bytes. */
export const MAX_FRAGMENT_LINES = 200;
export const MAX_FRAGMENT_LINE_LENGTH = 1000;

export type SdpFragMedia = { mid: string | null; candidates: string[]; endOfCandidates: boolean };
export type SdpFrag = {
  ufrag: string | null;
  pwd: string | null;
  media: SdpFragMedia[];
  /** a=end-of-candidates at session level. */
  endOfCandidates: boolean;
};

// RFC 8839 section 5.4: ice-char = ALPHA / DIGIT / "+" / "/"; ufrag 4..256, pwd 22..256.
const UFRAG = /^[A-Za-z0-9+/]{4,256}$/;
const PWD = /^[A-Za-z0-9+/]{22,256}$/;
// foundation component transport priority address port "typ" type ...
const CANDIDATE = /^candidate:[A-Za-z0-9+/]{1,32} \d{1,3} [A-Za-z]{2,8} \d{1,10} [0-9A-Za-z.:%_-]{1,255} \d{1,5} typ [a-z]{4,5}( [\x21-\x7e]+)*$/;

/**
 * Parses a fragment. Something that is not SDP at all is 400 BAD_REQUEST;
 * SDP that says something we cannot apply (no media section, a malformed
 * candidate or credentials, too many lines or candidates) is 422
 * VALIDATION_FAILED.
 */
export function parseSdpFrag(text: string): SdpFrag {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new AppError('BAD_REQUEST', 'the body is empty: send an SDP fragment (RFC 8840)');
  if (lines.length > MAX_FRAGMENT_LINES) throw new AppError('VALIDATION_FAILED', `an SDP fragment has at most ${MAX_FRAGMENT_LINES} lines`);
  const frag: SdpFrag = { ufrag: null, pwd: null, media: [], endOfCandidates: false };
  let candidates = 0;
  for (const [i, line] of lines.entries()) {
    if (line.length > MAX_FRAGMENT_LINE_LENGTH) throw new AppError('VALIDATION_FAILED', `line ${i + 1} is longer than ${MAX_FRAGMENT_LINE_LENGTH} characters`);
    if (!/^[a-z]=/.test(line)) throw new AppError('BAD_REQUEST', `line ${i + 1} is not an SDP line (type=value)`);
    const current = frag.media[frag.media.length - 1];
    if (line.startsWith('m=')) {
      frag.media.push({ mid: null, candidates: [], endOfCandidates: false });
      continue;
    }
    if (!line.startsWith('a=')) continue; // RFC 8840 allows other lines; nothing to apply from them
    const [name, ...rest] = line.slice(2).split(':');
    const value = rest.join(':').trim();
    switch (name) {
      case 'ice-ufrag':
        if (!UFRAG.test(value)) throw new AppError('VALIDATION_FAILED', 'a=ice-ufrag must be 4 to 256 ice-chars (RFC 8839)');
        if (frag.ufrag !== null && frag.ufrag !== value) throw new AppError('VALIDATION_FAILED', 'the fragment gives two different ice-ufrag values (this server bundles every section on one ICE session)');
        frag.ufrag = value;
        break;
      case 'ice-pwd':
        if (!PWD.test(value)) throw new AppError('VALIDATION_FAILED', 'a=ice-pwd must be 22 to 256 ice-chars (RFC 8839)');
        if (frag.pwd !== null && frag.pwd !== value) throw new AppError('VALIDATION_FAILED', 'the fragment gives two different ice-pwd values');
        frag.pwd = value;
        break;
      case 'mid':
        if (!current) throw new AppError('VALIDATION_FAILED', 'a=mid before any m= line');
        if (!/^[\x21-\x7e]{1,32}$/.test(value)) throw new AppError('VALIDATION_FAILED', 'a=mid is not a media id');
        current.mid = value;
        break;
      case 'candidate': {
        const candidate = line.slice(2);
        if (!CANDIDATE.test(candidate)) throw new AppError('VALIDATION_FAILED', `line ${i + 1} is not a valid ICE candidate`);
        if (!current) throw new AppError('VALIDATION_FAILED', 'a candidate before any m= line (RFC 8840: candidates belong to a media section)');
        if (++candidates > MAX_OFFER_CANDIDATES) throw new AppError('VALIDATION_FAILED', `an SDP fragment has at most ${MAX_OFFER_CANDIDATES} candidates`);
        current.candidates.push(candidate);
        break;
      }
      case 'end-of-candidates':
        if (current) current.endOfCandidates = true;
        else frag.endOfCandidates = true;
        break;
      default:
        // a=ice-options, a=group and the like: nothing to apply.
        break;
    }
  }
  if ((frag.ufrag === null) !== (frag.pwd === null)) throw new AppError('VALIDATION_FAILED', 'a=ice-ufrag and a=ice-pwd go together');
  // Credentials alone are an ICE restart (what medooze's whip-whep client sends first).
  if (frag.media.length === 0 && !frag.endOfCandidates && frag.ufrag === null) {
    throw new AppError('VALIDATION_FAILED', 'the fragment has no media section (m=) to apply candidates to, and no credentials');
  }
  return frag;
}

/** The ICE credentials of an SDP (the first ones found: the server bundles). */
export function iceCredentials(sdp: string): { ufrag: string; pwd: string } | null {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
  const pwd = /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1];
  return ufrag && pwd ? { ufrag, pwd } : null;
}

/**
 * The fragment answering an ICE restart: the new credentials and candidates
 * of the server's local description, for its first (bundled) media section.
 */
export function restartAnswerFrag(localSdp: string): string {
  const creds = iceCredentials(localSdp);
  if (!creds) throw new AppError('WEBRTC_ERROR', 'the restarted session has no ICE credentials');
  const section = localSdp.split(/\r?\n(?=m=)/)[1] ?? '';
  const mLine = /^m=.*$/m.exec(section)?.[0];
  const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
  const candidates = [...section.matchAll(/^a=(candidate:[^\r\n]+)/gm)].map((m) => `a=${m[1]}`);
  const lines = [
    ...(/^a=ice-lite/m.test(localSdp) ? ['a=ice-lite'] : []),
    `a=ice-ufrag:${creds.ufrag}`,
    `a=ice-pwd:${creds.pwd}`,
    ...(mLine ? [mLine] : []),
    ...(mid ? [`a=mid:${mid}`] : []),
    ...candidates,
    'a=end-of-candidates',
  ];
  return lines.join('\r\n') + '\r\n';
}
