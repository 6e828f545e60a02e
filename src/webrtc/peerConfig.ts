// The werift configurations for both ends, in one place because each line
// works around something measured in docs/werift.md.
import type { RTCPeerConnectionConfig } from 'werift';
import { loopbackStunUrl } from './stunResponder.ts';

export type ServerPeerOptions = {
  iceServers: readonly string[];
  iceAdditionalHostAddresses: readonly string[];
};

/** In the host addresses, `all`: every interface werift finds, as well as the addresses listed. */
export const ALL_INTERFACES = 'all';

/** Whether the host addresses ask for every interface (werift's own gathering) rather than only the listed ones. */
export const gathersAllInterfaces = (hostAddresses: readonly string[]) => hostAddresses.length === 0 || hostAddresses.includes(ALL_INTERFACES);

/**
 * The server (answering) peer. ICE-lite: it only answers checks, so it never
 * gathers server-reflexive candidates and never falls back to a public STUN
 * host offline. max-bundle: werift's default leaked UDP sockets on close.
 *
 * Host candidates: werift gathers one on every non-internal interface (IPv4
 * and IPv6) and adds `iceAdditionalHostAddresses`; `iceUseIpv4/6: false`
 * turns its own gathering off, so the listed addresses are the only ones
 * (measured in docs/werift.md). `all` in the list gives werift's gathering
 * back, as does an empty list: the default is 127.0.0.1 and `all`, since a
 * local aiortc viewer has no loopback candidate; `--ice-host-address
 * 127.0.0.1` keeps a server on loopback.
 */
export function serverPeerConfig(options: ServerPeerOptions): RTCPeerConnectionConfig {
  const all = gathersAllInterfaces(options.iceAdditionalHostAddresses);
  return {
    iceLite: true,
    bundlePolicy: 'max-bundle',
    iceAdditionalHostAddresses: options.iceAdditionalHostAddresses.filter((a) => a !== ALL_INTERFACES),
    ...(all ? {} : { iceUseIpv4: false, iceUseIpv6: false }),
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
