/** Bodies and responses of /api/v1/accounts. */
import Type from 'typebox';
import {
  BillingAddress,
  BillingMode,
  Contact,
  Gstin,
  MoneyAmount,
  NonNegativeMoneyAmount,
  NumberKind,
  PositivePaiseAmount,
  Text,
} from '../common.ts';
import { CommandResult, Currency } from './common.ts';

const strict = { additionalProperties: false } as const;

export const OpenAccountBody = Type.Object(
  {
    /** Chosen by the caller (to retry safely) or generated. */
    accountId: Type.Optional(Type.String({ format: 'uuid' })),
    legalName: Text(200),
    contact: Contact,
    billingAddress: BillingAddress,
    gstin: Type.Optional(Gstin),
    billingMode: BillingMode,
    creditLimit: Type.Optional(NonNegativeMoneyAmount),
  },
  { ...strict, $id: 'OpenAccountBody' },
);

export const AccountCreated = Type.Object(
  { accountId: Type.String({ format: 'uuid' }), ...CommandResult.properties },
  strict,
);

export const UpdateProfileBody = Type.Object(
  {
    legalName: Type.Optional(Text(200)),
    contact: Type.Optional(Contact),
    billingAddress: Type.Optional(BillingAddress),
    gstin: Type.Optional(Type.Union([Gstin, Type.Null()])),
  },
  { ...strict, minProperties: 1, $id: 'UpdateProfileBody' },
);

export const BalanceResponse = Type.Object(
  {
    accountId: Type.String({ format: 'uuid' }),
    wallet: MoneyAmount,
    reserved: MoneyAmount,
    available: MoneyAmount,
    creditLimit: MoneyAmount,
    freeSecondsLeft: Type.Integer({ minimum: 0 }),
    usageMonth: Type.Union([Type.Object({ start: Type.String(), end: Type.String() }, strict), Type.Null()]),
    currency: Currency,
    streamVersion: Type.String(),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { ...strict, $id: 'Balance' },
);

export const AdjustmentBody = Type.Object(
  { amount: MoneyAmount, reason: Text(500) },
  { ...strict, $id: 'AdjustmentBody' },
);

export const TopUpBody = Type.Object({ amount: PositivePaiseAmount }, { ...strict, $id: 'TopUpBody' });

export const TopUp = Type.Object(
  {
    topupId: Type.String({ format: 'uuid' }),
    accountId: Type.String({ format: 'uuid' }),
    amount: MoneyAmount,
    currency: Currency,
    status: Type.Union([Type.Literal('pending'), Type.Literal('confirmed'), Type.Literal('cancelled')]),
    requestedAt: Type.String({ format: 'date-time' }),
    confirmedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { ...strict, $id: 'TopUp' },
);

export const NumberBody = Type.Object(
  { kind: NumberKind, number: Type.String({ pattern: '^\\d{2,11}$' }) },
  { ...strict, $id: 'NumberBody' },
);

export const ReasonBody = Type.Object({ reason: Text(500) }, { ...strict, $id: 'ReasonBody' });
