// How many peers this process can hold before it runs out of file
// descriptors. Each werift peer binds one UDP socket per host address it
// gathers on (every non-internal interface address, v4 and v6, plus the
// configured additional addresses such as loopback; docs/werift.md), and may open
// one more descriptor (the file it streams, or an mDNS socket to resolve a
// browser's `.local` candidate). Under the common `ulimit -n 1024` with three
// addresses a server crashed at ~330 peers when werift's bind failed with
// EMFILE; the cap keeps it well below that, leaving room for the database,
// HTTP connections and the rest.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { ALL_INTERFACES, gathersAllInterfaces } from './peerConfig.ts';

/** The most peers one process admits, whatever the descriptor limit. */
export const MAX_PEERS = 1000;
/** Descriptors kept for everything else: the database and its WAL, stdio, libuv, the listening socket, content files. */
export const BASE_FDS = 64;
/** Descriptors a peer may use besides its host sockets (the file it streams, or an mDNS socket). */
export const EXTRA_FDS_PER_PEER = 1;

/** The soft limit on open files (`ulimit -n`), or null when unlimited or unknown (not Linux). */
export function openFileLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m || m[1] === 'unlimited') return null;
  const soft = Number(m[1]);
  return Number.isInteger(soft) && soft > 0 ? soft : null;
}

// werift skips these interfaces when it gathers host candidates (its
// selectAddressesFromInterfaces, after Chromium's network.cc).
const SKIPPED_INTERFACE_PREFIXES = ['ipsec', 'tun', 'utun', 'tap', 'vmnet', 'veth'];

/**
 * Host addresses a server peer binds a socket on: what werift gathers
 * (non-internal, not link-local, IPv4 and IPv6, skipped interfaces aside)
 * plus the configured additional host addresses.
 */
export function socketsPerPeer(additionalHostAddresses: readonly string[], interfaces = networkInterfaces()): number {
  const addresses = new Set(additionalHostAddresses.filter((a) => a !== ALL_INTERFACES));
  // Only the listed addresses, unless every interface was asked for (peerConfig.ts).
  if (!gathersAllInterfaces(additionalHostAddresses)) return Math.max(1, addresses.size);
  for (const [name, infos] of Object.entries(interfaces)) {
    if (SKIPPED_INTERFACE_PREFIXES.some((p) => name.startsWith(p))) continue;
    for (const info of infos ?? []) {
      if (info.internal) continue;
      const linkLocal = info.family === 'IPv4' ? info.address.startsWith('169.254.') : info.address.startsWith('fe80:');
      if (!linkLocal) addresses.add(info.address);
    }
  }
  return Math.max(1, addresses.size);
}

export type PeerBudget = {
  /** Peers admitted at once. */
  maxPeers: number;
  /** What the descriptor limit alone allows (null when it is unlimited or unknown). */
  derivedMaxPeers: number | null;
  fdLimit: number | null;
  fdsPerPeer: number;
};

/**
 * The peer cap: what fits in the descriptor limit after BASE_FDS and the
 * HTTP connections, at most MAX_PEERS; `configured` overrides it (an
 * operator who raised the cap past the limit still gets clean refusals:
 * a failed bind becomes a 503, see serverPeer.ts).
 */
export function peerBudget(options: {
  configured: number | null;
  httpConnections: number;
  additionalHostAddresses: readonly string[];
  fdLimit?: number | null;
}): PeerBudget {
  const fdLimit = options.fdLimit === undefined ? openFileLimit() : options.fdLimit;
  const fdsPerPeer = socketsPerPeer(options.additionalHostAddresses) + EXTRA_FDS_PER_PEER;
  const derivedMaxPeers =
    fdLimit === null ? null : Math.max(0, Math.min(MAX_PEERS, Math.floor((fdLimit - BASE_FDS - options.httpConnections) / fdsPerPeer)));
  return { maxPeers: options.configured ?? derivedMaxPeers ?? MAX_PEERS, derivedMaxPeers, fdLimit, fdsPerPeer };
}

/** Whether an error means the process ran out of descriptors (or buffers) for a socket or file. */
export function isResourceExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE' || code === 'ENOBUFS';
}
