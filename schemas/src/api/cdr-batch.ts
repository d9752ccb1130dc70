/**
 * Batch CDR ingestion (`POST /api/v1/cdrs/batch`): what a production ingester (a CDR collector in
 * front of several switches) posts, many normalized CDRs at once, and the outcome of each.
 */
import Type from 'typebox';
import { MoneyAmount } from '../common.ts';
import { CdrBody } from './calls.ts';
import { Currency } from './common.ts';

/** CDRs in one batch: what one commit of the ledger's group commit takes comfortably. */
export const CDR_BATCH_ITEMS_MAX = 1_000;

const strict = { additionalProperties: false } as const;

export const CdrBatchBody = Type.Object(
  {
    cdrs: Type.Array(Type.Object(CdrBody.properties, strict), {
      minItems: 1,
      maxItems: CDR_BATCH_ITEMS_MAX,
      description: `1 to ${CDR_BATCH_ITEMS_MAX} normalized CDRs; each account's in the order they happened`,
    }),
  },
  { ...strict, $id: 'CdrBatchBody' },
);

/** One CDR's outcome: rated (or recognised as rated before), or refused with a stable code. */
export const CdrBatchItemResult = Type.Object(
  {
    index: Type.Integer({ minimum: 0, description: 'Position of the CDR in the request' }),
    accountId: Type.String({ format: 'uuid' }),
    callId: Type.String(),
    leg: Type.Union([Type.Literal('A'), Type.Literal('B')]),
    status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
    commandId: Type.String({ format: 'uuid', description: 'Derived from account, call id and leg' }),
    streamVersion: Type.Union([Type.String(), Type.Null()]),
    cost: Type.Union([MoneyAmount, Type.Null()], { description: 'Null for B-legs (recorded, not charged)' }),
    currency: Currency,
    code: Type.Union([Type.String(), Type.Null()], { description: 'Rejection code, e.g. UNKNOWN_ACCOUNT' }),
    message: Type.Union([Type.String(), Type.Null()]),
  },
  strict,
);

export const CdrBatchResult = Type.Object(
  {
    accepted: Type.Integer({ minimum: 0 }),
    rejected: Type.Integer({ minimum: 0 }),
    results: Type.Array(CdrBatchItemResult),
  },
  { ...strict, $id: 'CdrBatchResult' },
);
