/** Bodies and responses of /api/v1/subscriptions. */
import Type from 'typebox';
import { AddOnId, BillingCycle, LocalDate, PlanId } from '../common.ts';
import { CommandResult } from './common.ts';

const strict = { additionalProperties: false } as const;

export const SubscribeBody = Type.Object(
  {
    accountId: Type.String({ format: 'uuid' }),
    planId: PlanId,
    cycle: BillingCycle,
    startOn: Type.Optional(LocalDate),
  },
  { ...strict, $id: 'SubscribeBody' },
);

export const SubscriptionCreated = Type.Object(
  { subscriptionId: Type.String({ format: 'uuid' }), ...CommandResult.properties },
  strict,
);

export const ChangeSubscriptionBody = Type.Object(
  {
    planId: Type.Optional(PlanId),
    cycle: Type.Optional(BillingCycle),
    /** The add-ons the subscription should have: quantities are brought to these (0 removes one). */
    addOns: Type.Optional(
      Type.Array(Type.Object({ addOnId: AddOnId, quantity: Type.Integer({ minimum: 0, maximum: 1_000 }) }, strict), {
        maxItems: 20,
      }),
    ),
  },
  { ...strict, minProperties: 1, $id: 'ChangeSubscriptionBody' },
);

export const CancelQuery = Type.Object(
  {
    when: Type.Optional(Type.Union([Type.Literal('now'), Type.Literal('period_end')])),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  strict,
);

export const SubscriptionIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, strict);

export const ChangeResult = Type.Object({ results: Type.Array(CommandResult) }, strict);
