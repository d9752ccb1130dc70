/**
 * Shapes shared by the HTTP API's bodies and responses (OpenAPI is generated from these). Money is a
 * decimal string in rupees beside a `currency`; lists are cursor-paginated.
 */
import Type, { type TSchema } from 'typebox';

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI identifying the problem type' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.Optional(Type.String({ description: 'Stable machine-readable code, e.g. INSUFFICIENT_FUNDS' })),
    errors: Type.Optional(
      Type.Array(Type.Object({ pointer: Type.String(), message: Type.String() }, { additionalProperties: false }), {
        description: 'The offending fields (validation problems)',
      }),
    ),
    // A type list, not an anyOf: the response serializer then needs no schema validator of its own for every
    // route and status that can answer with a problem (it built one per route, about 9 MiB in all).
    details: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Unsafe<string | number | boolean | null>({ type: ['string', 'number', 'boolean', 'null'] }),
      ),
    ),
    requestId: Type.Optional(Type.String()),
  },
  { $id: 'Problem', title: 'Problem (RFC 9457)', additionalProperties: false },
);

export const Currency = Type.Literal('INR');

export const AccountIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const PageQuery = {
  limit: Type.Optional(
    Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|200)$', description: '1–200 (default 50)' }),
  ),
  cursor: Type.Optional(Type.String({ maxLength: 500, description: 'nextCursor of the previous page' })),
};

/** A page of items: `nextCursor` is null on the last page. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object(
    { items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) },
    { additionalProperties: false },
  );

/** The outcome of a command that was accepted: what it appended. */
export const CommandResult = Type.Object(
  {
    commandId: Type.String({ format: 'uuid' }),
    streamVersion: Type.String({ description: 'The account stream version after the command' }),
    events: Type.Array(
      Type.Object(
        {
          eventId: Type.String(),
          type: Type.String(),
          version: Type.String(),
          data: Type.Record(Type.String(), Type.Unknown()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
