// One traced peer connection: turns the rtcstats entries the client sends
// about it ([method, pc id, value, client time, sequence]) into events for
// its stream `client:<session>:<pc>`. It keeps only what the protocol needs
// between entries (the previous whole stats report, against which the client
// compressed the next one; the last state of each kind) and the keys that
// join it to a server connection.
import type { NewEvent } from '../log/catalogue.ts';
import { CLIENT_STATE_KINDS } from '../log/catalogue.ts';
import { AppError } from '../errors.ts';
import { expandStats, statsKeys, viewerSample, type StatsReport } from './stats.ts';
import { obfuscateIps, stripCredentials } from './privacy.ts';

export type TraceEntry = { method: string; pcId: string | null; value: unknown; clientTs: number | null; seq: number | null };

/** Which `connection.negotiated` field a key from the viewer's side matches. */
export type JoinKey = {
  field: 'local_ice_ufrag' | 'remote_ice_ufrag' | 'local_fingerprint';
  by: 'ice_ufrag' | 'dtls_fingerprint';
  key: string;
};

export type TraceContext = {
  sessionId: string;
  source: 'rtcstats' | 'rtcstats_dump' | 'webrtc_internals';
  meeting: string | null;
  userAgent: string | null;
  identity: Record<string, unknown> | null;
  obfuscateIps: boolean;
};

const STATE_METHODS: Record<string, (typeof CLIENT_STATE_KINDS)[number]> = {
  onconnectionstatechange: 'connection',
  oniceconnectionstatechange: 'ice',
  onsignalingstatechange: 'signaling',
  onicegatheringstatechange: 'gathering',
  ondtlsstatechange: 'dtls',
};

/** The sdp of a description-like value ({type, sdp} or a bare string). */
function sdpOf(value: unknown): string | null {
  if (typeof value === 'string') return value.startsWith('v=0') ? value : null;
  if (typeof value === 'object' && value !== null && typeof (value as { sdp?: unknown }).sdp === 'string') return (value as { sdp: string }).sdp;
  return null;
}

function sdpKeys(sdp: string): { ufrag: string | null; fingerprint: string | null } {
  const ufrag = /^a=ice-ufrag:(\S{1,256})\s*$/m.exec(sdp)?.[1] ?? null;
  const fp = /^a=fingerprint:\S+ ([0-9A-Fa-f:]{2,200})\s*$/m.exec(sdp)?.[1] ?? null;
  return { ufrag, fingerprint: fp ? fp.toUpperCase() : null };
}

export class PeerTrace {
  private previous: StatsReport = {};
  private lastSampleTs: number | null = null;
  private readonly states = new Map<string, string>();
  private readonly seenKeys = new Set<string>();
  private created = false;
  closed = false;
  /** Set once a `client.correlated` is recorded: no more look-ups. */
  correlatedWith: string | null = null;

  constructor(
    readonly pcId: string,
    private readonly context: TraceContext,
  ) {}

  get stream(): string {
    return `client:${this.context.sessionId}:${this.pcId}`;
  }

  /** The events one entry becomes, and any new keys it revealed. Throws VALIDATION_FAILED for a value that cannot be what its method says. */
  handle(entry: TraceEntry): { events: NewEvent[]; keys: JoinKey[] } {
    // State changes only once the entry is known good: a refused entry leaves the trace as it was.
    const out = this.translate(entry);
    this.created = true;
    return out;
  }

  private translate(entry: TraceEntry): { events: NewEvent[]; keys: JoinKey[] } {
    const events: NewEvent[] = [];
    const keys: JoinKey[] = [];
    const client_ts = entry.clientTs;
    if (!this.created) {
      const configuration = entry.method === 'create' && typeof entry.value === 'object' && entry.value !== null ? (stripCredentials(entry.value) as Record<string, unknown>) : null;
      events.push({
        type: 'client.created',
        data: {
          session_id: this.context.sessionId,
          pc_id: this.pcId,
          source: this.context.source,
          meeting: this.context.meeting,
          user_agent: this.context.userAgent,
          identity: this.context.identity,
          configuration: configuration && this.context.obfuscateIps ? (obfuscateIps(configuration) as Record<string, unknown>) : configuration,
          client_ts,
        },
      });
      if (entry.method === 'create') return { events, keys };
    }
    const method = entry.method;
    if (method === 'getstats' || method === 'getStats') {
      const expanded = expandStats(this.previous, entry.value);
      if (!expanded) throw new AppError('VALIDATION_FAILED', `${method} of ${this.pcId}: not a stats report (an object of reports keyed by id, at most a few thousand)`);
      this.previous = expanded.report;
      const ts = expanded.timestamp ?? client_ts;
      const interval = ts !== null && this.lastSampleTs !== null && ts >= this.lastSampleTs ? ts - this.lastSampleTs : null;
      if (ts !== null) this.lastSampleTs = ts;
      events.push({ type: 'client.stats_sampled', data: { client_ts: ts, interval_ms: interval, ...viewerSample(expanded.report) } });
      const k = statsKeys(expanded.report);
      if (k.remoteUfrag) keys.push({ field: 'local_ice_ufrag', by: 'ice_ufrag', key: k.remoteUfrag });
      if (k.localUfrag) keys.push({ field: 'remote_ice_ufrag', by: 'ice_ufrag', key: k.localUfrag });
      if (k.remoteFingerprint) keys.push({ field: 'local_fingerprint', by: 'dtls_fingerprint', key: k.remoteFingerprint });
      return { events, keys: this.fresh(keys) };
    }
    const kind = STATE_METHODS[method];
    if (kind) {
      if (typeof entry.value !== 'string' || entry.value.length > 40) {
        throw new AppError('VALIDATION_FAILED', `${method} of ${this.pcId}: the state must be a short string`);
      }
      const from = this.states.get(kind) ?? null;
      this.states.set(kind, entry.value);
      events.push({ type: 'client.state_changed', data: { kind, from, to: entry.value, client_ts } });
      return { events, keys };
    }
    const sdp = sdpOf(entry.value);
    if (sdp && (method === 'setRemoteDescription' || method === 'setLocalDescription')) {
      const k = sdpKeys(sdp);
      if (method === 'setRemoteDescription') {
        if (k.ufrag) keys.push({ field: 'local_ice_ufrag', by: 'ice_ufrag', key: k.ufrag });
        if (k.fingerprint) keys.push({ field: 'local_fingerprint', by: 'dtls_fingerprint', key: k.fingerprint });
      } else if (k.ufrag) {
        keys.push({ field: 'remote_ice_ufrag', by: 'ice_ufrag', key: k.ufrag });
      }
    }
    const value = this.context.obfuscateIps ? obfuscateIps(entry.value) : entry.value;
    events.push({ type: 'client.trace', data: { method: method.slice(0, 100), value: value ?? null, client_ts, client_seq: entry.seq } });
    if (method === 'close' && !this.closed) {
      this.closed = true;
      events.push({ type: 'client.closed', data: { reason: 'pc_closed', client_ts } });
    }
    return { events, keys: this.fresh(keys) };
  }

  /** Keys not offered before (a look-up per key, not per sample). */
  private fresh(keys: JoinKey[]): JoinKey[] {
    if (this.correlatedWith) return [];
    return keys.filter((k) => {
      const id = `${k.field}\u0000${k.key}`;
      if (this.seenKeys.has(id) || this.seenKeys.size >= 16) return false;
      this.seenKeys.add(id);
      return true;
    });
  }
}
