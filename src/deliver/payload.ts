// What a webhook carries, as pure functions of the stored event: which
// events are delivered, their subject, the webhook id and the body. The
// body follows the Standard Webhooks payload structure (`type`,
// `timestamp` of the event, `data`), with the log position, the subject and
// the node as top-level metadata.
import type { EventRow } from '../log/store.ts';
import type { ConnectionOutcome, EventType } from '../log/catalogue.ts';

/**
 * The event types endpoints receive: quality issues, and how connections
 * end or stall (a `connection.state_changed` only when the connection state
 * becomes `failed`).
 */
export const DELIVERED_TYPES = [
  'issue.raised',
  'issue.updated',
  'issue.resolved',
  'connection.state_changed',
  'connection.closed',
  'connection.stalled',
  'connection.resumed',
] as const satisfies readonly EventType[];

/** Whether a row of one of DELIVERED_TYPES is delivered (`data` is its parsed payload). */
export function isDelivered(type: string, data: Record<string, unknown>): boolean {
  if (type === 'connection.state_changed') return data.kind === 'connection' && data.to === 'failed';
  return (DELIVERED_TYPES as readonly string[]).includes(type);
}

/**
 * The stream whose events a receiver gets in order: the connection for its
 * own events; for an issue, what the issue is about (its `subject`).
 */
export function subjectOf(stream: string, data: Record<string, unknown>): string {
  return stream.startsWith('issue:') && typeof data.subject === 'string' ? data.subject : stream;
}

/**
 * The webhook id: stable across attempts and restarts, derived from the
 * node and the log position, so a receiver deduplicates on it. Only
 * `[A-Za-z0-9_-]` (the signed content is `id.timestamp.body`; no `.`).
 */
export function webhookId(node: string, position: number): string {
  return `msg_${node.replace(/[^A-Za-z0-9_-]/g, '-')}_${position}`;
}

export type WebhookBody = {
  type: string;
  /** When the event was recorded (ISO-8601 UTC); the attempt's time is the webhook-timestamp header. */
  timestamp: string;
  position: number;
  subject: string;
  node: string;
  data: Record<string, unknown>;
};

/** The body of one webhook; `outcome` is added to a `connection.closed` (how the connection ended). */
export function webhookBody(row: EventRow, data: Record<string, unknown>, node: string, outcome: ConnectionOutcome | null): WebhookBody {
  return {
    type: row.type,
    timestamp: new Date(row.recordedAt).toISOString(),
    position: row.position,
    subject: subjectOf(row.stream, data),
    node,
    data: outcome === null ? data : { ...data, outcome },
  };
}

/** How a connection ended, the read model's rule (src/projections/connection.ts outcomeOf) given whether it failed before closing. */
export function closeOutcome(initiator: string, failedBefore: boolean): ConnectionOutcome {
  if (failedBefore || initiator === 'ice') return 'failed';
  if (initiator === 'shutdown') return 'shutdown';
  if (initiator === 'process_restart') return 'process_restart';
  return 'clean';
}
