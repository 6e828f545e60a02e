// GET .../webrtc/check: what this server can do, every field derived from the
// running configuration and the installed werift, none written in.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { defaultPeerConfig } from 'werift';
import type { Config } from '../config.ts';
import { describeDir } from './content.ts';
import { serverPeerConfig } from './peerConfig.ts';

const require = createRequire(import.meta.url);

export async function checkReport(config: Config, live: { watchdogTickMs: number; streams: number; connections: number }) {
  const content = await describeDir(config.contentDir);
  const codec = (c: { mimeType: string; clockRate: number; channels?: number; payloadType?: number }) => ({
    mime_type: c.mimeType,
    clock_rate: c.clockRate,
    ...(c.channels ? { channels: c.channels } : {}),
  });
  // The configuration a server peer is built with, as ServerPeer builds it.
  const peer = serverPeerConfig({ iceServers: config.iceServers, iceAdditionalHostAddresses: config.iceAdditionalHostAddresses });
  return {
    webrtc: {
      library: 'werift',
      version: weriftVersion(),
      node: process.version,
      codecs: {
        audio: (defaultPeerConfig.codecs.audio ?? []).map(codec),
        video: (defaultPeerConfig.codecs.video ?? []).map(codec),
      },
      // What werift's file player (getUserMedia) packetizes: read from the installed werift.
      playable_source_codecs: playableSourceCodecs(),
      ice: {
        lite: peer.iceLite === true,
        bundle_policy: peer.bundlePolicy ?? null,
        servers: config.iceServers,
        additional_host_addresses: config.iceAdditionalHostAddresses,
      },
      liveness: {
        stall_after_ms: config.stallAfterMs,
        consent_timeout_ms: config.consentTimeoutMs,
        watchdog_tick_ms: live.watchdogTickMs,
      },
      stats_interval_ms: config.statsIntervalMs,
    },
    content: {
      // The directory's name, not its absolute path: the layout of the
      // host's file system is not a client's business.
      directory: basename(content.path),
      exists: content.exists,
      readable: content.readable,
      ...(content.error ? { error: content.error } : {}),
      files: content.items.map((i) => ({ name: i.name, size: i.size, sha256: i.sha256, media: i.media })),
    },
    live: { streams: live.streams, connections: live.connections },
  };
}

/**
 * The installed werift's version, read from its package.json (which its
 * "exports" map does not expose, so it is found from the resolved entry).
 */
export function weriftVersion(): string | null {
  try {
    let dir = dirname(require.resolve('werift'));
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'werift') return pkg.version ?? null;
    }
  } catch {
    // fall through: report that we do not know
  }
  return null;
}

/**
 * The source codecs werift's file player packetizes, as MIME types. werift
 * 0.24 keeps the list (`supportedSourceCodecs`) and its MIME mapping
 * (`toSupportedMimeType`) in a module its "exports" map does not expose, and
 * requiring that CommonJS file beside the ESM build werift/nonstandard loads
 * would load its media container library twice; so both are read from the
 * file's text. test/http/webrtc.test.ts pins the result against the installed
 * werift.
 */
export function playableSourceCodecs(): string[] | null {
  try {
    let dir = dirname(require.resolve('werift'));
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      const file = join(dir, 'nonstandard/userMedia/packetizer.js');
      if (!existsSync(file)) continue;
      const text = readFileSync(file, 'utf8');
      const list = /supportedSourceCodecs\s*=\s*\[([^\]]*)\]/.exec(text)?.[1];
      if (!list) return null;
      const codecs = [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
      const mime = new Map([...text.matchAll(/case "([^"]+)":\s*return "([a-z]+\/[^"]+)";/g)].map((m) => [m[1], m[2]]));
      return codecs.map((c) => mime.get(c) ?? c);
    }
  } catch {
    // fall through: report that we do not know
  }
  return null;
}
