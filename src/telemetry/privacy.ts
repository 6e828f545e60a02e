// What viewer-side traces keep private, as the anchors do it: TURN
// credentials never enter the log (rtcstats drops `credential` in the page;
// a dump or another client may not), and IP addresses are masked on request
// (`--obfuscate-ips`), in candidates, SDP and address fields alike, before
// anything is recorded.

const SECRET_KEYS = new Set(['credential', 'password']);

/** A deep copy of an RTCConfiguration-like value without TURN credentials. */
export function stripCredentials(value: unknown, depth = 0): unknown {
  if (depth > 20) return null;
  if (Array.isArray(value)) return value.map((v) => stripCredentials(v, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEYS.has(k)) continue;
    out[k] = stripCredentials(v, depth + 1);
  }
  return out;
}

const maskIp = (ip: string) => (ip.includes(':') ? 'x:x:x:x:x:x:x:x' : /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) ? 'x.x.x.x' : ip);

/** Masks the address (and raddr) of one ICE candidate line; relay candidates keep theirs (they name the TURN server). */
function maskCandidate(line: string): string {
  const parts = line.split(' ');
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> [raddr <a> rport <p>] ...
  if (parts.length < 8) return line;
  const type = parts[7];
  if (type !== 'relay') parts[4] = maskIp(parts[4]);
  const raddr = parts.indexOf('raddr');
  if (raddr > 0 && raddr + 1 < parts.length) parts[raddr + 1] = maskIp(parts[raddr + 1]);
  return parts.join(' ');
}

function maskText(text: string): string {
  if (!text.includes('candidate:') && !text.includes('c=IN ')) return text;
  return text
    .split(/(\r?\n)/)
    .map((line) => {
      if (/^(a=)?candidate:/.test(line)) return maskCandidate(line);
      if (/^c=IN IP[46] /.test(line)) return line.startsWith('c=IN IP6') ? 'c=IN IP6 ::' : 'c=IN IP4 0.0.0.0';
      return line;
    })
    .join('');
}

const ADDRESS_KEYS = new Set(['address', 'ip', 'relatedAddress']);

/** A deep copy with every IP address in candidates, SDP and address fields masked. */
export function obfuscateIps(value: unknown, depth = 0): unknown {
  if (depth > 20) return null;
  if (typeof value === 'string') return maskText(value);
  if (Array.isArray(value)) return value.map((v) => obfuscateIps(v, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  const isRelay = (value as Record<string, unknown>).candidateType === 'relay' || (value as Record<string, unknown>).type === 'relay';
  for (const [k, v] of Object.entries(value)) {
    out[k] = ADDRESS_KEYS.has(k) && typeof v === 'string' && !(isRelay && k !== 'relatedAddress') ? maskIp(v) : obfuscateIps(v, depth + 1);
  }
  return out;
}
