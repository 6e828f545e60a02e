// A real webhook receiver: an HTTP server on 127.0.0.1 that verifies every
// request with the `standardwebhooks` library (Webhook.verify: the
// signature over id.timestamp.body, and the timestamp's tolerance), keeps
// what it received, and can be stopped and started again on the same port
// (the endpoint's URL stays the same). `behaviour` decides each answer.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type Received = {
  id: string;
  timestamp: number;
  body: { type: string; timestamp: string; position: number; subject: string; node: string; data: Record<string, any> };
  authorization: string | undefined;
  /** performance.timeOrigin + performance.now() when the body was read. */
  at: number;
};

/** ok: 204; status: that status; hang: never answer (the sender's timeout ends it). */
export type Behaviour = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'hang' };

export type WebhookReceiver = {
  url: string;
  port: number;
  /** Every verified request, in arrival order (duplicates included). */
  received: Received[];
  /** Requests whose signature did not verify, with the library's message. */
  rejected: string[];
  /** Requests that arrived (verified or not), answered or not. */
  requests: number;
  behaviour: (request: number) => Behaviour;
  /** First delivery of each webhook id, in arrival order (what a deduplicating receiver processes). */
  deduplicated(): Received[];
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Resolves when `probe` holds on what was received (checked on each arrival). */
  until(probe: (r: WebhookReceiver) => boolean, what: string, timeoutMs?: number): Promise<void>;
};

export const TEST_WEBHOOK_SECRET = `whsec_${Buffer.from('a test secret of 32 bytes length').toString('base64')}`;

export async function startWebhookReceiver(options: { secret?: string; path?: string; userinfo?: string } = {}): Promise<WebhookReceiver> {
  const verifier = new Webhook(options.secret ?? TEST_WEBHOOK_SECRET);
  const waiters = new Set<() => void>();
  let server: Server | null = null;
  let port = 0;
  const receiver: WebhookReceiver = {
    url: '',
    port: 0,
    received: [],
    rejected: [],
    requests: 0,
    behaviour: () => ({ kind: 'ok' }),
    deduplicated() {
      const seen = new Set<string>();
      return receiver.received.filter((r) => !seen.has(r.id) && seen.add(r.id));
    },
    async start() {
      server = createServer((req, res) => void handle(req, res));
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
      port = (server.address() as AddressInfo).port;
      receiver.port = port;
      receiver.url = `http://${options.userinfo ? `${options.userinfo}@` : ''}127.0.0.1:${port}${options.path ?? '/hooks'}`;
    },
    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    until(probe, what, timeoutMs = 20_000) {
      if (probe(receiver)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!probe(receiver)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for the receiver to get ${what}`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const n = ++receiver.requests;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const at = performance.timeOrigin + performance.now();
    const payload = Buffer.concat(chunks).toString('utf8');
    const behaviour = receiver.behaviour(n);
    if (behaviour.kind === 'hang') return; // the sender gives up; closing the server ends the socket
    const headers = { 'webhook-id': String(req.headers['webhook-id']), 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) };
    try {
      const body = verifier.verify(payload, headers) as Received['body'];
      if (behaviour.kind === 'ok') {
        receiver.received.push({ id: headers['webhook-id'], timestamp: Number(headers['webhook-timestamp']), body, authorization: req.headers.authorization, at });
      }
    } catch (err) {
      receiver.rejected.push((err as Error).message);
      res.writeHead(401).end();
      return;
    }
    res.writeHead(behaviour.kind === 'ok' ? 204 : behaviour.status).end();
    for (const waiter of [...waiters]) waiter();
  }

  await receiver.start();
  return receiver;
}
