/** Bodies and responses of /api/v1/tariffs and /api/v1/audit. */
import Type from 'typebox';
import { DialledNumber, Instant } from '../common.ts';

const strict = { additionalProperties: false } as const;

export const TariffIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9._-]{1,100}$' }) }, strict);

export const TariffResponse = Type.Object(
  {
    id: Type.String(),
    version: Type.Integer(),
    kind: Type.Union([Type.Literal('destination'), Type.Literal('plan-overage')]),
    editable: Type.Boolean(),
    publishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    document: Type.Record(Type.String(), Type.Unknown()),
  },
  { ...strict, $id: 'Tariff' },
);

export const TariffList = Type.Object({ items: Type.Array(TariffResponse) }, strict);

/** A tariff document (schemas/tariff.schema.json); validated by the domain, which names the bad field. */
export const TariffDocumentBody = Type.Record(Type.String(), Type.Unknown(), { $id: 'TariffDocumentBody' });

export const QuoteBody = Type.Object(
  {
    destination: DialledNumber,
    start: Instant,
    durationSeconds: Type.Integer({ minimum: 0, maximum: 86_400 }),
    answered: Type.Optional(Type.Boolean()),
  },
  { ...strict, $id: 'QuoteBody' },
);

export const QuoteResponse = Type.Object(
  {
    tariffId: Type.String(),
    version: Type.Integer(),
    destination: Type.String(),
    cost: Type.String(),
    currency: Type.Literal('INR'),
    billedSeconds: Type.Integer(),
    slices: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  },
  { ...strict, $id: 'Quote' },
);

export const AuditEvent = Type.Object(
  {
    eventId: Type.String(),
    type: Type.String(),
    schemaVersion: Type.Integer(),
    version: Type.String(),
    position: Type.String(),
    storedAt: Type.String({ format: 'date-time' }),
    data: Type.Record(Type.String(), Type.Unknown()),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    chainHash: Type.Union([Type.String(), Type.Null()]),
  },
  { ...strict, $id: 'AuditEvent' },
);

export const AsOfQuery = Type.Object({ asOf: Type.Optional(Instant) }, strict);

export const VerificationResponse = Type.Object(
  {
    accountId: Type.String(),
    streamVersion: Type.String(),
    eventsReplayed: Type.Integer(),
    ok: Type.Boolean(),
    chain: Type.Object(
      {
        ok: Type.Boolean(),
        eventsChecked: Type.Integer(),
        lastHash: Type.String(),
        firstBreak: Type.Union([
          Type.Object(
            {
              version: Type.String(),
              eventId: Type.String(),
              expected: Type.String(),
              actual: Type.Union([Type.String(), Type.Null()]),
            },
            strict,
          ),
          Type.Null(),
        ]),
      },
      strict,
    ),
    differences: Type.Array(
      Type.Object(
        { source: Type.String(), field: Type.String(), expected: Type.String(), actual: Type.String() },
        strict,
      ),
    ),
  },
  { ...strict, $id: 'Verification' },
);
