// `webrtc-monitor import FILE`: a chrome://webrtc-internals dump (the JSON
// its "Create dump" saves; Chromium 156 gzips it by default) or an rtcstats
// dump (rtcstats-server's lines, or the `RTCStatsDump` file Chromium's
// webrtc-internals also offers), gzipped or not, appended as client streams.
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { AppError } from '../errors.ts';
import type { ConnectionLookup } from './session.ts';
import { parseRtcstatsDump, translateRtcstatsDump, type DumpImport } from './dump.ts';
import { translateWebrtcInternals } from './webrtcInternals.ts';

/** The largest dump read (after decompression). */
export const MAX_DUMP_BYTES = 512 * 1024 * 1024;

export type DumpKind = 'webrtc_internals' | 'rtcstats';

/** The file's text, gunzipped when it is gzip, bounded. */
export function readDumpText(path: string, maxBytes = MAX_DUMP_BYTES): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new AppError('NOT_FOUND', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (size > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `${path} is larger than ${maxBytes} bytes`);
  const bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes, { maxOutputLength: maxBytes }).toString('utf8');
    } catch (err) {
      throw new AppError('VALIDATION_FAILED', `${path} is gzip but does not decompress within ${maxBytes} bytes: ${(err as Error).message}`);
    }
  }
  return bytes.toString('utf8');
}

export async function translateDumpText(
  text: string,
  context: { obfuscateIps: boolean; maxPeers: number },
  lookup: ConnectionLookup,
): Promise<{ kind: DumpKind; imported: DumpImport }> {
  const start = text.trimStart();
  if (start.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(start);
    } catch {
      throw new AppError('VALIDATION_FAILED', 'the file starts like a webrtc-internals dump (JSON) but is not valid JSON');
    }
    return { kind: 'webrtc_internals', imported: await translateWebrtcInternals(json, { meeting: null, ...context }, lookup) };
  }
  if (start.startsWith('[') || start.startsWith('RTCStatsDump')) {
    const imported = await translateRtcstatsDump(parseRtcstatsDump(start), { source: 'rtcstats_dump', meeting: null, userAgent: null, ...context }, lookup);
    return { kind: 'rtcstats', imported };
  }
  throw new AppError('VALIDATION_FAILED', 'not a dump this command reads: a webrtc-internals dump (JSON) or an rtcstats dump (JSON arrays per line)');
}
