/** Responses of the read-model routes: accounts, subscriptions, usage, calls and CDRs. */
import Type from 'typebox';
import { BillingAddress, Contact } from '../common.ts';
import { Currency } from './common.ts';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Money = Type.String({ description: 'Rupees, decimal string' });

export const AccountNumberView = Type.Object(
  {
    kind: Type.Union([Type.Literal('toll-free'), Type.Literal('extension')]),
    number: Type.String(),
    accountId: Type.String(),
    assignedAt: Type.String({ format: 'date-time' }),
  },
  strict,
);

export const AccountViewSchema = Type.Object(
  {
    accountId: Type.String(),
    legalName: Type.String(),
    contact: Contact,
    billingAddress: BillingAddress,
    stateCode: Type.String(),
    gstin: Nullable(Type.String()),
    billingMode: Type.Union([Type.Literal('prepaid'), Type.Literal('postpaid')]),
    creditLimit: Money,
    status: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]),
    statusReason: Nullable(Type.String()),
    plan: Nullable(Type.Object({ planId: Type.String(), cycle: Type.String() }, strict)),
    openedAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    streamVersion: Type.String(),
    currency: Currency,
    numbers: Type.Array(AccountNumberView),
  },
  { ...strict, $id: 'Account' },
);

export const SubscriptionViewSchema = Type.Object(
  {
    subscriptionId: Type.String(),
    accountId: Type.String(),
    planId: Type.String(),
    cycle: Type.String(),
    anchor: Type.String(),
    currentPeriod: Type.Object({ index: Type.Integer(), start: Type.String(), end: Type.String() }, strict),
    status: Type.String(),
    nextChargeOn: Nullable(Type.String()),
    lastCharge: Nullable(Type.Object({ at: Type.String(), amount: Money }, strict)),
    pendingChange: Nullable(
      Type.Object({ planId: Type.String(), cycle: Type.String(), effectiveOn: Type.String() }, strict),
    ),
    cancellation: Nullable(
      Type.Object({ when: Type.String(), effectiveOn: Type.String(), reason: Nullable(Type.String()) }, strict),
    ),
    endedOn: Nullable(Type.String()),
    addOns: Type.Array(Type.Object({ addOnId: Type.String(), quantity: Type.Integer() }, strict)),
    startedOn: Type.String(),
    startedAt: Type.String(),
    updatedAt: Type.String(),
    currency: Currency,
  },
  { ...strict, $id: 'Subscription' },
);

export const CallViewSchema = Type.Object(
  {
    accountId: Type.String(),
    callId: Type.String(),
    destination: Type.String(),
    destinationName: Type.String(),
    basis: Nullable(Type.String()),
    tariffId: Type.String(),
    status: Type.String(),
    startedAt: Type.String(),
    authorization: Nullable(
      Type.Object(
        {
          authorizedAt: Type.String(),
          maxSeconds: Type.Integer(),
          reservedAmount: Money,
          reservedFreeSeconds: Type.Integer(),
          expiresAt: Type.String(),
          extensions: Type.Integer(),
        },
        strict,
      ),
    ),
    expiredAt: Nullable(Type.String()),
    rating: Nullable(
      Type.Object(
        {
          answeredAt: Nullable(Type.String()),
          durationSeconds: Type.Integer(),
          billableMilliseconds: Type.Integer(),
          billedSeconds: Type.Integer(),
          freeSecondsUsed: Type.Integer(),
          overageSeconds: Type.Integer(),
          cost: Money,
          ratedCost: Money,
          excess: Money,
          hadReservation: Type.Boolean(),
          usageMonthStart: Nullable(Type.String()),
          ratedAt: Type.String(),
          rerated: Type.Boolean(),
          reratedCount: Type.Integer(),
        },
        strict,
      ),
    ),
    currency: Currency,
  },
  { ...strict, $id: 'Call' },
);

const UsageTotals = {
  calls: Type.Integer(),
  answeredCalls: Type.Integer(),
  durationSeconds: Type.Integer(),
  billedSeconds: Type.Integer(),
  cost: Money,
};

export const UsageViewSchema = Type.Object(
  {
    accountId: Type.String(),
    month: Type.String({ pattern: '^\\d{4}-\\d{2}$' }),
    ...UsageTotals,
    freeSecondsUsed: Type.Integer(),
    overageSeconds: Type.Integer(),
    reratedCalls: Type.Integer(),
    currency: Currency,
    destinations: Type.Array(Type.Object({ destinationName: Type.String(), ...UsageTotals }, strict)),
  },
  { ...strict, $id: 'Usage' },
);

export const UsageQuery = Type.Object({ month: Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$' }) }, strict);
