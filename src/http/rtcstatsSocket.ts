// The rtcstats WebSocket: viewer-side telemetry from the real rtcstats
// client (@jitsi/rtcstats), on the same HTTP server as everything else.
//
//   ws://host/api/v0/mcp/telemetry/rtcstats[/t/<token>][/<meeting>]?statsSessionId=<id>[&isReconnect=true]
//
// The client builds the URL itself (`${endpoint}/${meetingFqn}?statsSessionId=…`)
// and a browser cannot set headers on a WebSocket, so a page puts its token
// in the endpoint's path (`…/rtcstats/t/<token>`); other clients may send
// `Authorization: Bearer`. What the handshake refuses is an HTTP problem
// (401, 403, 404, 421, 503) before any WebSocket exists; what a session does
// wrong closes it with a WebSocket code and a reason:
//   1007  a message that is not JSON or not the protocol (reason says what)
//   1008  the message rate was exceeded
//   1009  a message over --telemetry-max-message (ws closes it itself)
//   1001  idle past --telemetry-idle-timeout, or the server is shutting down
//   1011  the log refused to record (storage away)
// A refused message writes nothing: each message is one append, validated
// whole before it is queued.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Services } from './app.ts';
import { isAppError } from '../errors.ts';
import { authorizeTelemetry, type ViewerTokens } from './auth.ts';
import { splitHost } from './sameSite.ts';
import { isIP } from 'node:net';
import { TraceSession } from '../telemetry/session.ts';
import type { JoinKey } from '../telemetry/peerTrace.ts';

export const TELEMETRY_PREFIX = '/api/v0/mcp/telemetry';
export const RTCSTATS_PATH = `${TELEMETRY_PREFIX}/rtcstats`;
/** Ended sessions kept for a client that reconnects (rtcstats retries for up to 10 minutes). */
const KEPT_DETACHED = 1000;

export const CLOSE = { malformed: 1007, policy: 1008, tooBig: 1009, goingAway: 1001, internal: 1011, leave: 3001 } as const;

export type RtcstatsSocketStats = {
  sessions: number;
  messages: number;
  refusedMessages: number;
  refusedHandshakes: number;
};

function problemResponse(socket: Duplex, status: number, code: string, detail: string) {
  const body = JSON.stringify({ type: `urn:webrtc-monitor:problem:${code.toLowerCase()}`, title: code, status, code, detail });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 421: 'Misdirected Request', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `${status === 503 ? 'Retry-After: 5\r\n' : ''}Connection: close\r\n\r\n${body}`,
  );
}

/** Path after the prefix -> token (from `/t/<token>`) and meeting. */
export function parseRtcstatsPath(pathname: string): { token: string | null; meeting: string | null } | null {
  if (pathname !== RTCSTATS_PATH && !pathname.startsWith(`${RTCSTATS_PATH}/`)) return null;
  let rest = pathname.slice(RTCSTATS_PATH.length + 1);
  let token: string | null = null;
  const t = /^t\/([^/]{1,512})(?:\/|$)/.exec(rest);
  if (t) {
    token = decodeURIComponent(t[1]);
    rest = rest.slice(t[0].length);
  }
  const meeting = rest ? decodeURIComponent(rest).slice(0, 500) : null;
  return { token, meeting };
}

export function attachRtcstatsSocket(server: Server, services: Services, viewerTokens: ViewerTokens | null = null) {
  const { config, store, logger } = services;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.telemetryMaxMessageBytes,
    // rtcstats asks for `<protocol iteration>_STANDARD` (or _LEGACY, whose
    // Chrome-only legacy stats this server does not read); a client that
    // asks for nothing is served too.
    handleProtocols: (protocols) => [...protocols].find((p) => /_STANDARD$/.test(p)) ?? false,
  });
  const live = new Map<string, { session: TraceSession; ws: WebSocket }>();
  const detached = new Map<string, TraceSession>();
  const stats: RtcstatsSocketStats = { sessions: 0, messages: 0, refusedMessages: 0, refusedHandshakes: 0 };
  const names = new Set(['localhost', ...config.allowedHosts.map((h) => h.toLowerCase())]);
  if (!isIP(config.host)) names.add(config.host.toLowerCase());
  const origins = new Set(config.allowedOrigins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  const lookup = (key: JoinKey) => store.connectionNegotiatedWith(key.field, key.key);

  function refuse(socket: Duplex, status: number, code: string, detail: string) {
    stats.refusedHandshakes++;
    problemResponse(socket, status, code, detail);
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = parseRtcstatsPath(url.pathname);
    if (!path) return refuse(socket, 404, 'ROUTE_NOT_FOUND', `no WebSocket at ${url.pathname.slice(0, 200)}`);
    const host = req.headers.host ?? '';
    const [hostname] = splitHost(host);
    if (host && !(isIP(hostname) || names.has(hostname.replace(/\.$/, '')))) return refuse(socket, 421, 'HOST_NOT_ALLOWED', 'this host name is not served here');
    const origin = req.headers.origin;
    if (origin && origin !== 'null') {
      let own = false;
      try {
        own = new URL(origin).host.toLowerCase() === host.toLowerCase() || origins.has(origin.toLowerCase());
      } catch {
        own = false;
      }
      if (!own) return refuse(socket, 403, 'CROSS_SITE_REQUEST', 'telemetry is accepted from this server\'s pages or an --allowed-origin');
    }
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() ?? null;
    // The meeting names the stream: its viewer token (or the admin token) reports on it.
    const allowed = authorizeTelemetry(config, viewerTokens, path.token ?? bearer, path.meeting);
    if (!allowed.ok) {
      return allowed.code === 'INSUFFICIENT_SCOPE'
        ? refuse(socket, 403, 'INSUFFICIENT_SCOPE', allowed.message)
        : refuse(socket, 401, 'UNAUTHORIZED', 'telemetry needs a token: …/rtcstats/t/<the stream\'s viewer token or the admin token>/<stream id> or Authorization: Bearer');
    }
    const sessionId = url.searchParams.get('statsSessionId') ?? '';
    if (!/^[\w-]{1,100}$/.test(sessionId)) return refuse(socket, 400, 'BAD_REQUEST', 'statsSessionId (letters, digits, "_", "-") is required');
    if (live.has(sessionId)) return refuse(socket, 409, 'CONFLICT', 'this statsSessionId is already connected');
    if (live.size >= config.telemetryMaxSessions) return refuse(socket, 503, 'UNAVAILABLE', `at most ${config.telemetryMaxSessions} reporting sessions at once`);
    wss.handleUpgrade(req, socket, head, (ws) => open(ws, req, sessionId, path.meeting));
  }

  function open(ws: WebSocket, req: IncomingMessage, sessionId: string, meeting: string | null) {
    let session = detached.get(sessionId);
    detached.delete(sessionId);
    session ??= new TraceSession(
      sessionId,
      store,
      { source: 'rtcstats', meeting, userAgent: (req.headers['user-agent'] ?? '').slice(0, 500) || null, obfuscateIps: config.obfuscateIps },
      { maxPeers: config.telemetryMaxPeers },
      lookup,
    );
    const s = session;
    live.set(sessionId, { session: s, ws });
    stats.sessions = live.size;
    // Token bucket: a burst for the client's buffered resend, then a steady rate.
    let tokens = config.telemetryBurst;
    let refilledAt = Date.now();
    let closing = false;
    const close = (code: number, reason: string) => {
      if (closing) return;
      closing = true;
      ws.close(code, reason.slice(0, 120));
    };
    let idle = setTimeout(() => close(CLOSE.goingAway, 'idle'), config.telemetryIdleTimeoutMs);
    const send = (body: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(body));
    send({ type: 'sn', body: { value: s.lastSeq, state: 'initial' } });
    let sinceAck = 0;

    ws.on('message', (raw, isBinary) => {
      if (closing) return;
      stats.messages++;
      clearTimeout(idle);
      idle = setTimeout(() => close(CLOSE.goingAway, 'idle'), config.telemetryIdleTimeoutMs);
      const now = Date.now();
      tokens = Math.min(config.telemetryBurst, tokens + ((now - refilledAt) * config.telemetryMessagesPerSecond) / 1000);
      refilledAt = now;
      if (tokens < 1) {
        stats.refusedMessages++;
        return close(CLOSE.policy, `more than ${config.telemetryMessagesPerSecond} messages per second`);
      }
      tokens -= 1;
      if (isBinary) {
        stats.refusedMessages++;
        return close(CLOSE.malformed, 'messages are JSON text');
      }
      let message: unknown;
      try {
        message = JSON.parse(raw.toString());
      } catch {
        stats.refusedMessages++;
        return close(CLOSE.malformed, 'not valid JSON');
      }
      try {
        const outcome = s.handleMessage(message);
        if (outcome.kind === 'keepalive') send({ type: 'sn', body: { value: s.lastSeq } });
        else if (outcome.kind === 'appended') {
          outcome.append?.catch((err) => {
            stats.refusedMessages++;
            if (isAppError(err) && err.status < 500) close(CLOSE.malformed, err.message);
            else close(CLOSE.internal, 'the event could not be recorded; retry later');
          });
          // Acknowledge now and then, so the client can drop what it buffered.
          if (++sinceAck >= 100) {
            sinceAck = 0;
            send({ type: 'sn', body: { value: s.lastSeq } });
          }
        }
      } catch (err) {
        stats.refusedMessages++;
        if (isAppError(err) && err.status < 500) return close(CLOSE.malformed, err.message);
        logger.error({ err, sessionId }, 'telemetry message failed');
        return close(CLOSE.internal, 'internal error');
      }
    });
    ws.on('error', (err) => logger.debug({ err, sessionId }, 'telemetry socket error'));
    ws.on('close', (code) => {
      clearTimeout(idle);
      live.delete(sessionId);
      stats.sessions = live.size;
      // Leaving (3001) or a normal close ends the traces; anything else may
      // reconnect with the same session and resume after its last sequence.
      if (code === CLOSE.leave || code === 1000 || shuttingDown) {
        void s.end(shuttingDown ? 'server_shutdown' : 'session_ended');
        return;
      }
      detached.set(sessionId, s);
      if (detached.size > KEPT_DETACHED) {
        const [oldestId, oldest] = detached.entries().next().value as [string, TraceSession];
        detached.delete(oldestId);
        void oldest.end('session_lost');
      }
    });
  }

  let shuttingDown = false;
  server.on('upgrade', onUpgrade);
  return {
    stats,
    /** Closes every session (1001) and records their traces' end. */
    async close(): Promise<void> {
      shuttingDown = true;
      server.off('upgrade', onUpgrade);
      const ends: Promise<unknown>[] = [];
      for (const { session, ws } of live.values()) {
        ws.close(CLOSE.goingAway, 'server shutting down');
        ends.push(session.end('server_shutdown'));
      }
      for (const session of detached.values()) ends.push(session.end('server_shutdown'));
      detached.clear();
      await Promise.all(ends);
      wss.close();
    },
  };
}
