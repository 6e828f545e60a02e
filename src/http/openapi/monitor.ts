// The monitor routes (src/http/routes/monitor.ts), described here rather than
// in that file so the router stays short.
import { MONITOR_PREFIX } from '../routes/monitor.ts';
import { CONNECTION_OUTCOMES, TASK_STATUSES } from '../../log/catalogue.ts';
import { CONNECTION_CATEGORIES } from '../../projections/connection.ts';
import { OPERATION_STATUSES } from '../../projections/operation.ts';
import { FORWARDER_STATES } from '../../fleet/status.ts';
import { cursorQuery, json, jsonBody, limitQuery, pathParam, query, ref, writeSecurity } from './components.ts';
import type { OpenApiPaths } from './types.ts';

const tags = ['monitor'];
const list = (values: readonly string[]) => ({ type: 'string', description: `Comma-separated: ${values.join(', ')}` });

export const monitorOpenApiPaths: OpenApiPaths = {
  [`${MONITOR_PREFIX}/summary`]: {
    get: {
      tags,
      summary: 'Counts of connections by state, operations by status, tasks, and the log position',
      responses: {
        200: json('The summary read model', {
          type: 'object',
          properties: {
            uptime_seconds: { type: 'integer' },
            timestamp: { type: 'string', format: 'date-time' },
            connection_states: { type: 'object', additionalProperties: { type: 'integer' } },
            connection_outcomes: {
              type: 'object',
              description: 'Ended connections by outcome; a failure followed by a close counts as failed.',
              properties: Object.fromEntries(CONNECTION_OUTCOMES.map((o) => [o, { type: 'integer' }])),
            },
            stalled_connections: { type: 'integer', description: 'Connections with nothing arriving for --stall-after, now.' },
            connection_stalls: { type: 'integer', description: 'Stalls that began, in the whole log.' },
            operation_stats: { type: 'object', additionalProperties: { type: 'integer' } },
            pending_tasks: { type: 'integer', description: 'Running tasks plus abandoned ones (timed out or cancelled, work still running).' },
            abandoned_tasks: { type: 'integer' },
            task_count: { type: 'integer' },
            event_count: { type: 'integer' },
            log_position: { type: 'integer' },
            forwarder: {
              type: ['object', 'null'],
              description: 'The fleet forwarder (`serve --forward-to`), or null when this node does not forward.',
              properties: {
                node: { type: 'string' },
                target: { type: 'string', description: 'The central database URL without its password.' },
                state: { type: 'string', enum: [...FORWARDER_STATES] },
                shipped_position: { type: 'integer', description: 'Every event up to this log position is in the centre.' },
                head_position: { type: 'integer' },
                lag_events: { type: 'integer' },
                lag_seconds: { type: 'number', description: 'Age of the oldest event not yet in the centre.' },
                events_shipped: { type: 'integer' },
                duplicates: { type: 'integer' },
                batches: { type: 'integer' },
                failures: { type: 'integer' },
                last_error: { type: ['object', 'null'] },
                last_shipped_at: { type: ['string', 'null'], format: 'date-time' },
              },
            },
          },
        }),
      },
    },
  },
  [`${MONITOR_PREFIX}/connections`]: {
    get: {
      tags,
      summary: 'Connections, newest first, keyed by id',
      parameters: [
        query('state', list(CONNECTION_CATEGORIES), 'Only these state categories.'),
        query('outcome', list(CONNECTION_OUTCOMES), 'Only ended connections with these outcomes.'),
        query('stalled', { type: 'boolean' }, 'true: only connections stalled now; false: only the others.'),
        query('include_closed', { type: 'boolean', default: false }, 'Include closed connections when no state is given.'),
        query('server_id', { type: 'string' }, 'Only connections of this stream server.'),
        limitQuery(1000, 100),
        cursorQuery,
      ],
      responses: {
        200: json('A page of connections', {
          type: 'object',
          properties: {
            connections: { type: 'object', additionalProperties: { type: 'object' } },
            count: { type: 'integer' },
            next_cursor: { type: ['string', 'null'] },
          },
        }),
        400: ref('BadRequest'),
      },
    },
  },
  [`${MONITOR_PREFIX}/connections/{id}`]: {
    get: {
      tags,
      summary: 'One connection with its tasks and timeline; `?at=` shows it as it was',
      parameters: [
        pathParam('id', 'Connection id'),
        query('at', { type: 'string' }, 'An ISO-8601 time or a log position (time travel).'),
        query('events_after', { type: 'integer', minimum: 0, default: 0 }, 'Timeline events after this stream version.'),
        query('events_limit', { type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
      ],
      responses: {
        200: json('The connection', {
          type: 'object',
          properties: {
            connection: { type: 'object' },
            as_of: {},
            tasks: { type: 'array', items: { type: 'object' } },
            timeline: {
              type: 'object',
              properties: {
                events: { type: 'array', items: { $ref: '#/components/schemas/Event' } },
                next_after: { type: ['integer', 'null'] },
              },
            },
          },
        }),
        400: ref('BadRequest'),
        404: ref('NotFound'),
      },
    },
  },
  [`${MONITOR_PREFIX}/operations`]: {
    get: {
      tags,
      summary: 'Operations, newest first (running ones unless a status is given)',
      parameters: [
        query('status', list([...OPERATION_STATUSES, 'active', 'all', 'started', 'canceled'])),
        query('type', { type: 'string' }),
        limitQuery(1000, 100),
        cursorQuery,
      ],
      responses: {
        200: json('A page of operations', {
          type: 'object',
          properties: { operations: { type: 'array', items: { type: 'object' } }, count: { type: 'integer' }, next_cursor: { type: ['string', 'null'] } },
        }),
        400: ref('BadRequest'),
      },
    },
  },
  [`${MONITOR_PREFIX}/operations/{id}`]: {
    get: {
      tags,
      summary: 'One operation and its tasks',
      parameters: [pathParam('id', 'Operation id')],
      responses: { 200: json('The operation'), 404: ref('NotFound') },
    },
  },
  [`${MONITOR_PREFIX}/tasks`]: {
    get: {
      tags,
      summary: 'Tracked tasks grouped by connection (pending ones unless a status is given)',
      parameters: [
        query('status', list([...TASK_STATUSES, 'pending', 'abandoned', 'all']), 'pending (the default): created, running and abandoned (given up on, work still running).'),
        query('connection_id', { type: 'string' }),
        query('operation_id', { type: 'string' }),
        limitQuery(1000, 100),
        cursorQuery,
      ],
      responses: {
        200: json('Tasks grouped by connection id (`none` for tasks without one)', {
          type: 'object',
          properties: { tasks: { type: 'object', additionalProperties: { type: 'array' } }, count: { type: 'integer' } },
        }),
        400: ref('BadRequest'),
      },
    },
  },
  [`${MONITOR_PREFIX}/export`]: {
    post: {
      tags,
      summary: 'Export JSON logs (connections/ and operations/) to the configured directory',
      security: writeSecurity,
      parameters: [
        {
          name: 'Prefer',
          in: 'header',
          required: false,
          description: '`respond-async` answers 202 at once with the operation id.',
          schema: { type: 'string', examples: ['respond-async'] },
        },
      ],
      requestBody: jsonBody({
        type: 'object',
        additionalProperties: false,
        properties: { since: { type: 'string', format: 'date-time' }, connection_id: { type: 'string' } },
      }),
      responses: {
        200: json('What was written, with the export operation id'),
        202: json('The export is still running (Prefer: respond-async, or --operation-timeout passed); poll Location.'),
        400: ref('BadRequest'),
        401: ref('Unauthorized'),
        415: ref('UnsupportedMediaType'),
        422: ref('ValidationFailed'),
      },
    },
  },
};
