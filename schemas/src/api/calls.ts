/** Bodies and responses of call authorization, call end and CDR ingestion. */
import Type from 'typebox';
import { DialledNumber, Instant, TollFreeNumber } from '../common.ts';

const strict = { additionalProperties: false } as const;
const CallId = Type.String({ minLength: 1, maxLength: 100 });

export const AuthorizeCallBody = Type.Object(
  {
    callId: CallId,
    /** The account paying for the call (FreeSWITCH `accountcode`)… */
    accountCode: Type.Optional(Type.String({ format: 'uuid' })),
    /** …or the toll-free number that was dialled (its account pays). */
    destinationNumber: Type.Optional(TollFreeNumber),
    destination: DialledNumber,
  },
  { ...strict, $id: 'AuthorizeCallBody' },
);

export const AuthorizationResponse = Type.Object(
  {
    authorized: Type.Boolean(),
    maxSeconds: Type.Integer({ minimum: 0 }),
    reason: Type.String({
      description:
        'OK, a rejection code such as INSUFFICIENT_FUNDS, or LEDGER_UNAVAILABLE: let through by the fail-open policy while the ledger cannot be written (no reservation)',
    }),
    accountId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  },
  { ...strict, $id: 'Authorization' },
);

export const EndCallBody = Type.Object(
  {
    accountId: Type.String({ format: 'uuid' }),
    /** Defaults to what the authorization recorded. */
    destination: Type.Optional(DialledNumber),
    startedAt: Type.Optional(Instant),
    answeredAt: Type.Union([Instant, Type.Null()]),
    billableMilliseconds: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
    hangupCause: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { ...strict, $id: 'EndCallBody' },
);

/** A CDR in Khata's normalized form (FreeSWITCH's own formats arrive at /api/webhooks/cdr). */
export const CdrBody = Type.Object(
  {
    callId: CallId,
    accountId: Type.String({ format: 'uuid' }),
    leg: Type.Union([Type.Literal('A'), Type.Literal('B')]),
    destination: DialledNumber,
    startedAt: Instant,
    answeredAt: Type.Union([Instant, Type.Null()]),
    billableMilliseconds: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
    hangupCause: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { ...strict, $id: 'CdrBody' },
);

export const CallIdParams = Type.Object({ callId: CallId }, strict);
