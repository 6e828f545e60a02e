// The event envelope as the API shows it (GET events, the SSE feed, a
// connection's timeline), with each type's payload from the catalogue
// (src/log/catalogue.ts): one component per event type, and `Event`, their
// union, told apart by `type`.
import { z } from 'zod';
import { EVENT_SCHEMAS, EVENT_TYPES, type EventType } from '../../log/catalogue.ts';
import { isoTime, named } from './components.ts';

const metaSchema = z
  .looseObject({
    schema: z.number().int().meta({ description: 'The catalogue version the payload was written with.' }),
    operation_id: z.string().optional(),
    request_id: z.string().optional(),
  })
  .meta({ description: 'Correlation: the operation and request that caused the event.' });

/** `connection.stats_sampled` -> `ConnectionStatsSampledEvent`. */
export const eventComponentName = (type: EventType) =>
  `${type.split(/[._]/).map((w) => w[0].toUpperCase() + w.slice(1)).join('')}Event`;

const variants = EVENT_TYPES.map((type) =>
  named(
    eventComponentName(type),
    z.object({
      position: z.number().int().min(1).meta({ description: 'Global order in the log, and the SSE id.' }),
      stream: z.string().meta({ examples: ['connection:2f1c4b8e-…'] }),
      version: z.number().int().min(1).meta({ description: '1-based within the stream.' }),
      type: z.literal(type),
      recorded_at: isoTime,
      data: EVENT_SCHEMAS[type] as z.ZodType,
      meta: metaSchema,
    }),
  ),
);

export const eventSchema = named(
  'Event',
  z
    .discriminatedUnion('type', variants as unknown as [z.ZodObject, ...z.ZodObject[]])
    .meta({ description: 'One event of the log; `data` is the payload of its `type`.' }),
);

/** The discriminator the document adds to `Event`: each type to its component. */
export const eventDiscriminator = {
  propertyName: 'type',
  mapping: Object.fromEntries(EVENT_TYPES.map((t) => [t, `#/components/schemas/${eventComponentName(t)}`])),
};
