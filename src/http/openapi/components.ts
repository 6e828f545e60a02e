// Schemas shared by many routes, each named once: the document lists them
// under components/schemas and refers to them by name. `named` is how any
// module (a plugin's routes too) gives a response schema a component name;
// the document keeps only the components its routes reach.
import { z } from 'zod';

const names = new Map<z.ZodType, string>();

/** Gives `schema` a component name in the OpenAPI document. */
export function named<S extends z.ZodType>(name: string, schema: S): S {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`OpenAPI: "${name}" is not a component name`);
  for (const [other, existing] of names) if (existing === name && other !== schema) throw new Error(`OpenAPI: two schemas named ${name}`);
  names.set(schema, name);
  return schema;
}

/** Every named schema (of every module loaded so far), by name. */
export const namedSchemas = (): ReadonlyMap<z.ZodType, string> => names;

export const isoTime = z.string().meta({ format: 'date-time', description: 'ISO-8601, UTC' });
export const errorInfo = named('ErrorInfo', z.object({ code: z.string(), message: z.string() }));

export const problemSchema = named(
  'Problem',
  z
    .object({
      type: z.string().meta({ examples: ['urn:webrtc-monitor:problem:not_found'] }),
      title: z.string(),
      status: z.number().int().min(400).max(599),
      code: z.string().meta({ description: 'Stable, for programs: see the error table in src/errors.ts.', examples: ['NOT_FOUND'] }),
      detail: z.string().optional(),
      instance: z.string().optional(),
      errors: z.unknown().optional().meta({ description: 'The validation issues (path and message each), or the operation id of a failed operation.' }),
    })
    .meta({ description: 'RFC 9457 problem details (application/problem+json).' }),
);

/** 202: the operation was accepted and is running; nothing more is claimed (src/http/respond.ts answerAccepted). */
export const acceptedSchema = named(
  'Accepted',
  z
    .looseObject({
      accepted: z.literal(true),
      status: z.literal('running'),
      operation_id: z.string(),
      location: z.string().meta({ description: 'Where the operation is: poll it for the outcome.' }),
    })
    .meta({ description: 'Accepted and still running (Prefer: respond-async, or --operation-timeout passed): no outcome yet.' }),
);

/** What every route that runs an operation answers with 200: its id and duration beside the result. */
export const completed = <T extends z.ZodRawShape>(shape: T) =>
  z.looseObject({ success: z.literal(true), operation_id: z.string(), duration_ms: z.number().int().nonnegative(), ...shape });
