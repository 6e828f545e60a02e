// The werift configurations for both ends, in one place because each line
// works around something measured in docs/werift.md.
import type { RTCPeerConnectionConfig } from 'werift';
import { loopbackStunUrl } from './stunResponder.ts';

export type ServerPeerOptions = {
  iceServers: readonly string[];
  iceAdditionalHostAddresses: readonly string[];
};

/**
 * The server (answering) peer. ICE-lite: it only answers checks, so it never
 * gathers server-reflexive candidates and never falls back to a public STUN
 * host offline. max-bundle: werift's default leaked UDP sockets on close.
 * Loopback is added so viewers on this machine can connect.
 */
export function serverPeerConfig(options: ServerPeerOptions): RTCPeerConnectionConfig {
  return {
    iceLite: true,
    bundlePolicy: 'max-bundle',
    iceAdditionalHostAddresses: [...options.iceAdditionalHostAddresses],
    iceServers: options.iceServers.map((urls) => ({ urls })),
  };
}

/**
 * An in-process viewer (full ICE, the controlling side). It must have a STUN
 * server or werift asks stun.l.google.com; it gets the loopback responder.
 */
export async function viewerPeerConfig(): Promise<RTCPeerConnectionConfig> {
  return {
    bundlePolicy: 'max-bundle',
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceServers: [{ urls: await loopbackStunUrl() }],
    // The viewer only ever talks to this machine over IPv4 loopback; one
    // socket fewer per interface per viewer.
    iceUseIpv6: false,
  };
}
