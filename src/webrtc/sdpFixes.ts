// Rewrites of a viewer's SDP offer that werift needs before
// setRemoteDescription.

/**
 * aiortc (<= 1.4) gives each m-section its own ICE ufrag/pwd even when they
 * are bundled; werift applies every section's credentials to its one bundled
 * transport, so the last wins and every connectivity check fails
 * MESSAGE-INTEGRITY (docs/werift.md, "aiortc hangs in ICE checking"). When the
 * bundled sections disagree, give them all the first bundled section's
 * credentials and drop the others' candidates (the bundle uses the first
 * section's transport only). Offers whose sections already agree (browsers,
 * werift) are returned unchanged.
 */
export function unifyBundleCredentials(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const bundle = lines.find((l) => l.startsWith('a=group:BUNDLE '));
  if (!bundle) return sdp;
  const mids = new Set(bundle.slice('a=group:BUNDLE '.length).trim().split(/\s+/));
  const sections: string[][] = [[]];
  for (const line of lines) {
    if (line.startsWith('m=')) sections.push([]);
    sections[sections.length - 1].push(line);
  }
  const [session, ...media] = sections;
  const attr = (section: string[], name: string) => section.find((l) => l.startsWith(`a=${name}:`))?.slice(name.length + 3);
  const bundled = media.filter((s) => mids.has(attr(s, 'mid') ?? ''));
  if (bundled.length < 2) return sdp;
  const ufrag = attr(bundled[0], 'ice-ufrag');
  const pwd = attr(bundled[0], 'ice-pwd');
  if (!ufrag || !pwd) return sdp;
  const agree = bundled.every((s) => attr(s, 'ice-ufrag') === ufrag && attr(s, 'ice-pwd') === pwd);
  if (agree) return sdp;
  const fixed = media.map((section) => {
    if (section === bundled[0] || !bundled.includes(section)) return section;
    return section
      .filter((l) => !l.startsWith('a=candidate:'))
      .map((l) => (l.startsWith('a=ice-ufrag:') ? `a=ice-ufrag:${ufrag}` : l.startsWith('a=ice-pwd:') ? `a=ice-pwd:${pwd}` : l));
  });
  return [session, ...fixed].flat().join(eol);
}

/** The m-section kinds of an SDP (audio, video, application). */
export function mediaKinds(sdp: string): string[] {
  return [...sdp.matchAll(/^m=(\w+)\s/gm)].map((m) => m[1]);
}

/** The candidate lines of an SDP, without the `a=` prefix. */
export function candidateLines(sdp: string): string[] {
  return [...sdp.matchAll(/^a=(candidate:[^\r\n]+)/gm)].map((m) => m[1]);
}

/** Parts of a candidate line: foundation component protocol priority address port typ type. */
export function parseCandidate(line: string): { protocol?: string; address?: string; port?: number; type?: string } {
  const parts = line.replace(/^candidate:/, '').split(/\s+/);
  const typAt = parts.indexOf('typ');
  const port = Number(parts[5]);
  return {
    protocol: parts[2]?.toLowerCase(),
    address: parts[4],
    port: Number.isInteger(port) ? port : undefined,
    type: typAt >= 0 ? parts[typAt + 1] : undefined,
  };
}

/**
 * The ICE username fragment and DTLS fingerprint a description commits to
 * (the first of each: bundled sections share them). The fingerprint is kept
 * as upper-case hex pairs without its hash name, the form browsers report in
 * getStats() `certificate` entries.
 */
export function transportKeys(sdp: string): { ufrag: string | null; fingerprint: string | null } {
  const ufrag = /^a=ice-ufrag:(\S{1,256})\s*$/m.exec(sdp)?.[1] ?? null;
  const fp = /^a=fingerprint:\S+ ([0-9A-Fa-f:]{2,200})\s*$/m.exec(sdp)?.[1] ?? null;
  return { ufrag, fingerprint: fp ? fp.toUpperCase() : null };
}
