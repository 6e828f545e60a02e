// Limits that refuse instead of failing: too many HTTP connections, and work
// arriving once shutdown has begun, are answered 503 with Retry-After while
// the server stays healthy.
import type { Context, Next } from 'koa';
import type { Config } from '../config.ts';
import { unavailable } from '../errors.ts';
import { openFileLimit } from '../webrtc/admission.ts';
import type { HttpServices } from './app.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * HTTP connections admitted at once: configured, or an eighth of the
 * descriptor limit (16..1024), the rest being left to peers and the database.
 */
export function httpConnectionCap(config: Config, fdLimit: number | null = openFileLimit()): number {
  if (config.maxConnections !== null) return config.maxConnections;
  if (fdLimit === null) return 1024;
  return Math.max(16, Math.min(1024, Math.floor(fdLimit / 8)));
}

export type ServerState = {
  /** Set at the first SIGTERM: mutating requests are refused from then on. */
  draining: boolean;
  openConnections: number;
  maxConnections: number;
};

const states = new WeakMap<HttpServices, ServerState>();

/** The one state object of the server these services belong to. */
export function serverState(services: HttpServices): ServerState {
  let state = states.get(services);
  if (!state) {
    state = { draining: false, openConnections: 0, maxConnections: httpConnectionCap(services.config) };
    states.set(services, state);
  }
  return state;
}

/** Counts the server's open connections (the accepted socket is already open when a request arrives). */
export function countConnections(services: HttpServices, server: import('node:http').Server) {
  const state = serverState(services);
  server.on('connection', (socket) => {
    state.openConnections++;
    socket.once('close', () => state.openConnections--);
  });
}

/** First in the chain: a connection over the cap gets a 503 and is closed. */
export function connectionLimit(services: HttpServices) {
  const state = serverState(services);
  return async function limitConnections(ctx: Context, next: Next) {
    if (state.openConnections > state.maxConnections) {
      ctx.set('Connection', 'close');
      throw unavailable('UNAVAILABLE', `too many open connections (at most ${state.maxConnections}); retry later`, 2);
    }
    await next();
  };
}

/**
 * Right before the routes (after the body was read, so a request whose body
 * was still arriving is caught too): once shutdown has begun, nothing new
 * starts. Reads are still answered.
 */
export function refuseWhileDraining(services: HttpServices) {
  const state = serverState(services);
  return async function draining(ctx: Context, next: Next) {
    if (state.draining) {
      ctx.set('Connection', 'close');
      if (!SAFE_METHODS.has(ctx.method)) throw unavailable('SHUTTING_DOWN', 'the server is shutting down', 10);
    }
    await next();
  };
}
