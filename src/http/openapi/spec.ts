// How a route describes itself for the OpenAPI document: the zod schemas its
// handler parses (query, body) and the zod schemas of what it answers, in a
// table beside the router, keyed by `METHOD /path` as Koa mounts it. The
// document (document.ts) is generated from these tables; a router file and
// its table are checked against each other by test/http/openapi.test.ts.
import { z } from 'zod';
import type { ErrorCode } from '../../errors.ts';

export type ResponseSpec = {
  description: string;
  /** An application/json body of this shape. */
  json?: z.ZodType;
  /** Another media type (text/html, application/sdp, text/event-stream, ...), with a string body unless `schema` says otherwise. */
  media?: { type: string; schema?: z.ZodType };
  /** Response headers by name, with what they carry. */
  headers?: Record<string, string>;
};

export type HeaderSpec = { name: string; description: string; schema: z.ZodType };

export type RouteSpec = {
  /** Unique in the document; also what client generators name the call. */
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** Descriptions of the path parameters (`:id` in the Koa path). */
  params?: Record<string, string>;
  /** The query schema the handler parses (parseQuery). */
  query?: z.ZodObject;
  headers?: HeaderSpec[];
  /** The JSON body the handler parses (parseBody), or another media type read as text. */
  body?: { json: z.ZodType; required?: boolean } | { media: string; description: string };
  responses: Record<number, ResponseSpec>;
  /**
   * The codes of the problems the route answers; each becomes a problem
   * response under its status from the error table (src/errors.ts).
   */
  errors?: ErrorCode[];
};

/** A router's routes, keyed by `GET /api/v0/…/connections/:id` (the full path as Koa mounts it). */
export type ApiSpec = Record<string, RouteSpec>;

/** `Prefer: respond-async`, for routes that run an operation (src/http/respond.ts). */
export const PREFER_HEADER: HeaderSpec = {
  name: 'Prefer',
  description: '`respond-async` (RFC 7240) answers 202 at once with the operation id and a Location to poll.',
  schema: z.string().max(200).meta({ examples: ['respond-async'] }),
};
