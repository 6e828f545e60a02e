// Pieces every fragment shares: the problem+json error, the event envelope,
// and small builders so fragments stay short and consistent.
import { EVENT_TYPES, STREAM_KINDS } from '../../log/catalogue.ts';
import type { Parameter, Response, Schema } from './types.ts';

export const components = {
  schemas: {
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details; `code` is stable and meant for programs.',
      required: ['type', 'title', 'status', 'code'],
      properties: {
        type: { type: 'string' },
        title: { type: 'string' },
        status: { type: 'integer' },
        code: { type: 'string', examples: ['NOT_FOUND', 'BAD_REQUEST', 'VALIDATION_FAILED', 'UNAUTHORIZED'] },
        detail: { type: 'string' },
        instance: { type: 'string' },
        errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
    Event: {
      type: 'object',
      description: 'One event of the log. `position` is its global order and the SSE id.',
      required: ['position', 'stream', 'version', 'type', 'recorded_at', 'data', 'meta'],
      properties: {
        position: { type: 'integer', minimum: 1 },
        stream: { type: 'string', examples: ['connection:2f1c…', 'operation:9a0e…'] },
        version: { type: 'integer', minimum: 1, description: '1-based within the stream' },
        type: { type: 'string', enum: EVENT_TYPES },
        recorded_at: { type: 'string', format: 'date-time' },
        data: { type: 'object' },
        meta: { type: 'object' },
      },
    },
  },
  responses: {
    BadRequest: problem('The query or path is invalid (code BAD_REQUEST).'),
    NotFound: problem('No such item (code NOT_FOUND).'),
    Unauthorized: problem('A token is configured and the request lacks `Authorization: Bearer <token>` (code UNAUTHORIZED).'),
    UnsupportedMediaType: problem('The body is not application/json (code UNSUPPORTED_MEDIA_TYPE).'),
    ValidationFailed: problem('The JSON body has the wrong shape (code VALIDATION_FAILED).'),
    PayloadTooLarge: problem('The body is larger than the configured limit (code PAYLOAD_TOO_LARGE).'),
  },
  securitySchemes: {
    bearer: {
      type: 'http',
      scheme: 'bearer',
      description: 'Needed on mutating routes when the server has a token configured; reads stay open.',
    },
  },
} as const;

export const STREAM_KIND_VALUES = [...STREAM_KINDS];

export function problem(description: string): Response {
  return { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
}

export const ref = (name: keyof typeof components.responses) => ({ $ref: `#/components/responses/${name}` });

export function json(description: string, schema: Schema = { type: 'object' }): Response {
  return { description, content: { 'application/json': { schema } } };
}

export function query(name: string, schema: Schema, description?: string): Parameter {
  return { name, in: 'query', required: false, schema, ...(description ? { description } : {}) };
}

export function pathParam(name: string, description: string): Parameter {
  return { name, in: 'path', required: true, description, schema: { type: 'string', maxLength: 200 } };
}

export const limitQuery = (max: number, fallback: number) =>
  query('limit', { type: 'integer', minimum: 1, maximum: max, default: fallback }, 'Most items in one page.');

export const cursorQuery = query('cursor', { type: 'string' }, 'The `next_cursor` of the previous page.');

/** For mutating routes: the bearer scheme, or nothing when no token is configured. */
export const writeSecurity: Record<string, string[]>[] = [{ bearer: [] }, {}];

export function jsonBody(schema: Schema, required = false) {
  return { required, content: { 'application/json': { schema } } };
}
