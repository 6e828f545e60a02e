// Issues the detectors raised (src/detect), under the monitor prefix: a
// paged list (open ones unless a status is given), one issue with its
// events, and the detectors' rules (shown, and reloaded from --rules by an
// admin without a restart).
import Router from '@koa/router';
import { z } from 'zod';
import type { Services } from '../app.ts';
import { AppError, notFound } from '../../errors.ts';
import { ISSUE_SEVERITIES, ISSUE_TYPES, streamName, type IssueSeverity, type IssueType } from '../../log/catalogue.ts';
import type { EventRow } from '../../log/store.ts';
import { ISSUE_STATUSES, type IssueModel, type IssueStatus } from '../../projections/issue.ts';
import { limitParam, parseQuery } from '../validate.ts';
import { MONITOR_PREFIX } from '../paths.ts';
import { isoTime, named } from '../openapi/components.ts';
import { eventSchema } from '../openapi/events.ts';
import type { ApiSpec } from '../openapi/spec.ts';

/** An event as the API shows it, from its stored row (monitor.ts has the same; importing it would make a cycle). */
const publicEventJson = (r: EventRow) =>
  `{"position":${r.position},"stream":${JSON.stringify(r.stream)},"version":${r.version},"type":${JSON.stringify(r.type)},` +
  `"recorded_at":"${new Date(r.recordedAt).toISOString()}","data":${r.data},"meta":${r.meta}}`;

const words = <T extends string>(allowed: readonly T[], extra: string[] = []) =>
  z
    .string()
    .meta({ description: `Comma-separated, any of: ${[...allowed, ...extra].join(', ')}` })
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum([...allowed, ...extra] as [string, ...string[]])).min(1));

const issuesQuery = z.object({
  status: words(ISSUE_STATUSES, ['all']).optional(),
  severity: words(ISSUE_SEVERITIES).optional(),
  type: words(ISSUE_TYPES).optional(),
  connection_id: z.string().max(200).optional().meta({ description: 'Only issues about this connection.' }),
  limit: limitParam(1000, 100),
  cursor: z.string().max(100).meta({ description: 'The `next_cursor` of the previous page.' }).optional(),
});

const now = () => new Date().toISOString();

function detectorsOf(services: Services) {
  const d = services.detectors;
  if (!d) throw new AppError('UNAVAILABLE', 'the detectors do not run in this process');
  return d;
}

export function issuesRouter(services: Services): Router {
  const { reads, store } = services;
  const router = new Router({ prefix: MONITOR_PREFIX });

  router.get('/issues', async (ctx) => {
    const q = parseQuery(ctx, issuesQuery);
    const statuses = !q.status ? ['open'] : q.status.includes('all') ? [] : q.status;
    const page = await reads.issueRows({
      statuses: statuses as IssueStatus[],
      severities: q.severity as IssueSeverity[] | undefined,
      types: q.type as IssueType[] | undefined,
      connectionId: q.connection_id,
      limit: q.limit,
      cursor: q.cursor,
    });
    ctx.type = 'application/json';
    ctx.body =
      `{"issues":[${page.items.map((r) => r.json).join(',')}],"count":${page.items.length},` +
      `"statuses":${JSON.stringify(statuses.length ? statuses : 'all')},"next_cursor":${JSON.stringify(page.nextCursor)},"timestamp":"${now()}"}`;
  });

  router.get('/issues/:id', async (ctx) => {
    const json = await reads.issueJson(ctx.params.id);
    if (json === null) throw notFound('issue', ctx.params.id);
    const rows = await store.readStreamRows(streamName('issue', ctx.params.id), { limit: 1000 });
    ctx.type = 'application/json';
    ctx.body = `{"issue":${json},"events":[${rows.map(publicEventJson).join(',')}],"timestamp":"${now()}"}`;
  });

  router.get('/rules', (ctx) => {
    const d = detectorsOf(services);
    ctx.body = { path: d.rules.path, digest: d.rules.digest, loaded_at: new Date(d.rules.loadedAt).toISOString(), rules: d.rules.current };
  });

  // Admin (a mutating route: the auth token when one is set).
  router.post('/rules/reload', async (ctx) => {
    const d = detectorsOf(services);
    const result = await d.rules.reload('admin');
    if (!result.ok) throw new AppError('RULES_INVALID', `rules refused, the rules in force stay (${d.rules.digest.slice(0, 12)}): ${result.error}`);
    ctx.body = { ok: true, path: d.rules.path, digest: d.rules.digest, rules: d.rules.current };
  });

  return router;
}

/** The connection detail's issues and their events, newest issue first (at most 50 issues). */
export async function connectionIssues(services: Services, connectionId: string): Promise<{ issues: string[]; events: string[] }> {
  const page = await services.reads.issueRows({ statuses: [], connectionId, limit: 50 });
  const rows: EventRow[] = [];
  for (const r of page.items) rows.push(...(await services.store.readStreamRows(streamName('issue', r.id), { limit: 100 })));
  rows.sort((a, b) => a.position - b.position);
  return { issues: page.items.map((r) => r.json), events: rows.map(publicEventJson) };
}

// ---- OpenAPI ----------------------------------------------------------------

export const issueSchema = named(
  'Issue',
  z
  .object({
    id: z.string(),
    type: z.enum(ISSUE_TYPES),
    severity: z.enum(ISSUE_SEVERITIES),
    status: z.enum(ISSUE_STATUSES),
    connection_id: z.string().nullable(),
    operation_id: z.string().nullable(),
    task_id: z.string().nullable(),
    node: z.string().nullable(),
    message: z.string(),
    value: z.number().nullable(),
    threshold: z.number().nullable(),
    worst: z.number().nullable(),
    raised_at: isoTime,
    updated_at: isoTime,
    resolved_at: isoTime.nullable(),
    resolution: z.string().nullable(),
    duration_ms: z.number().nullable(),
    updates: z.number().int().nonnegative(),
    version: z.number().int().nonnegative(),
    created_position: z.number().int().nonnegative(),
    last_position: z.number().int().nonnegative(),
  })
  .meta({ description: 'An issue the detectors raised: open until its condition stayed clear for the hold time.' }),
);

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same = <T extends true>(_proof?: T) => undefined;
same<Same<z.output<typeof issueSchema>, IssueModel>>();

const rulesBody = z.object({ path: z.string().nullable(), digest: z.string(), rules: z.record(z.string(), z.unknown()) });

export const issuesApi: ApiSpec = {
  [`GET ${MONITOR_PREFIX}/issues`]: {
    operationId: 'listIssues',
    tag: 'issues',
    summary: 'Issues the detectors raised, newest first (open ones unless a status is given)',
    query: issuesQuery,
    responses: {
      200: {
        description: 'A page of issues',
        json: z.object({
          issues: z.array(issueSchema),
          count: z.number().int().nonnegative(),
          statuses: z.union([z.array(z.string()), z.literal('all')]),
          next_cursor: z.string().nullable(),
          timestamp: isoTime,
        }),
      },
    },
    errors: ['BAD_REQUEST'],
  },
  [`GET ${MONITOR_PREFIX}/issues/:id`]: {
    operationId: 'getIssue',
    tag: 'issues',
    summary: 'One issue with its events (raised, updated, resolved)',
    params: { id: 'The issue id' },
    responses: { 200: { description: 'The issue', json: z.object({ issue: issueSchema, events: z.array(eventSchema), timestamp: isoTime }) } },
    errors: ['NOT_FOUND'],
  },
  [`GET ${MONITOR_PREFIX}/rules`]: {
    operationId: 'getRules',
    tag: 'issues',
    summary: "The detectors' rules in force",
    responses: { 200: { description: 'The rules', json: rulesBody.extend({ loaded_at: isoTime }) } },
    errors: ['UNAVAILABLE'],
  },
  [`POST ${MONITOR_PREFIX}/rules/reload`]: {
    operationId: 'reloadRules',
    tag: 'issues',
    summary: 'Read the rules file (--rules) again; a file that does not validate is refused and the rules in force stay',
    responses: { 200: { description: 'The new rules are in force', json: rulesBody.extend({ ok: z.literal(true) }) } },
    errors: ['RULES_INVALID', 'UNAVAILABLE'],
  },
};
