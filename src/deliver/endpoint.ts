// A webhook endpoint as configured: only http(s) URLs are accepted; user
// information in the URL (`https://user:pass@host/…`) becomes a Basic
// Authorization header (fetch refuses URLs with credentials), and every
// place the URL is shown (logs, events, metrics) gets it without its
// credentials or query values. Each endpoint has a key, derived from the
// whole URL, that names its stream (`webhook:<key>`) and its checkpoint, so
// both survive restarts and change when the URL does.
import { createHash } from 'node:crypto';

export type Endpoint = {
  /** What is fetched: the URL without user information. */
  url: string;
  /** For logs, events and metrics: no user information, query values replaced. */
  shown: string;
  /** 16 hex digits of SHA-256 over the configured URL. */
  key: string;
  /** `Basic …` when the URL carried user information. */
  authorization: string | null;
};

/** Why a webhook URL is refused, or null when it is acceptable. */
export function webhookUrlProblem(text: string): string | null {
  if (!URL.canParse(text)) return 'is not a URL';
  const url = new URL(text);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be http:// or https:// (got ${url.protocol})`;
  if (!url.hostname) return 'has no host';
  if (url.hash) return 'must not have a #fragment';
  return null;
}

export function parseEndpoint(text: string): Endpoint {
  const problem = webhookUrlProblem(text);
  if (problem) throw new Error(`webhook URL ${problem}`);
  const url = new URL(text);
  const authorization =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
      : null;
  url.username = '';
  url.password = '';
  return { url: url.href, shown: redactWebhookUrl(text), key: createHash('sha256').update(text).digest('hex').slice(0, 16), authorization };
}

/** The URL as it may be shown: user information dropped, query values replaced by `***`. */
export function redactWebhookUrl(text: string): string {
  if (!URL.canParse(text)) return '(not a URL)';
  const url = new URL(text);
  const hadUser = Boolean(url.username || url.password);
  url.username = '';
  url.password = '';
  for (const key of [...new Set(url.searchParams.keys())]) url.searchParams.set(key, '***');
  const shown = url.href;
  return hadUser ? shown.replace('://', '://***@') : shown;
}
