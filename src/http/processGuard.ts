// The last line against running out of file descriptors. werift binds its
// UDP sockets (and multicast-dns its mDNS socket) with no 'error' listener,
// so when bind fails with EMFILE the 'error' event is unhandled and ends the
// process: a server crashed at ~330 peers under `ulimit -n 1024`. Peer
// admission keeps the count under the limit (src/webrtc/admission.ts); when
// an operator raises the cap past it, or something else holds descriptors,
// this guard turns that one kind of failure into a clean refusal: the error
// is reported to the listeners (the WebRTC service fails the negotiations in
// flight with a 503) and the process lives on. Any other uncaught error ends
// the process exactly as it would without the guard.
import type { Logger } from 'pino';

type Listener = (err: unknown) => void;

const listeners = new Set<Listener>();
const loggers = new Set<Logger>();
let installed = false;
let exhaustions = 0;
let lastLogged = 0;

/** Times a resource-exhaustion error reached the guard in this process. */
export const guardedExhaustions = () => exhaustions;

function isExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE' || code === 'ENOBUFS';
}

function onUncaught(err: unknown) {
  if (!isExhaustion(err)) {
    // Not ours to survive: fail as Node would have (stack on stderr, exit 1).
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  }
  exhaustions++;
  const now = Date.now();
  if (now - lastLogged > 10_000) {
    // At most one line per 10 s: a flood of refused binds must not flood the log.
    lastLogged = now;
    const { code, syscall } = err as { code?: string; syscall?: string };
    for (const logger of loggers) logger.warn({ code, syscall, total: exhaustions }, 'out of file descriptors: refusing new peers until some close');
  }
  for (const listener of listeners) listener(err);
}

function onUnhandledRejection(reason: unknown) {
  onUncaught(reason);
}

/**
 * Installs the guard for as long as the returned function is not called
 * (several servers in one process share it). `onExhausted` hears each
 * EMFILE/ENFILE/ENOBUFS that nothing else caught.
 */
export function guardProcess(logger: Logger, onExhausted?: Listener): () => void {
  if (onExhausted) listeners.add(onExhausted);
  loggers.add(logger);
  if (!installed) {
    installed = true;
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandledRejection);
  }
  return () => {
    if (onExhausted) listeners.delete(onExhausted);
    loggers.delete(logger);
    if (listeners.size === 0 && loggers.size === 0 && installed) {
      installed = false;
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUnhandledRejection);
    }
  };
}
