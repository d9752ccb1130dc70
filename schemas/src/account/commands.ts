/**
 * Commands on an account stream (`account-<id>`). Every command carries `commandId` (a UUID the caller
 * keeps across retries: event ids derive from it) and `accountId`. Imperative names; units last.
 */
import Type, { type Static } from 'typebox';
import {
  AddOnId,
  BillingAddress,
  BillingCycle,
  BillingMode,
  Contact,
  DialledNumber,
  Gstin,
  Instant,
  LocalDate,
  MoneyAmount,
  NonNegativeMoneyAmount,
  NumberKind,
  PlanId,
  PositivePaiseAmount,
  Text,
  Uuid,
} from '../common.ts';

const options = { additionalProperties: false } as const;
const envelope = { commandId: Uuid, accountId: Uuid };

const command = <Name extends string, Fields extends Parameters<typeof Type.Object>[0]>(type: Name, fields: Fields) =>
  Type.Object(
    { type: Type.Literal(type), ...envelope, ...fields },
    { ...options, $id: `https://khata.dev/schemas/commands/${type}.json`, title: type },
  );

export const OpenAccount = command('OpenAccount', {
  legalName: Text(200),
  contact: Contact,
  billingAddress: BillingAddress,
  gstin: Type.Optional(Gstin),
  billingMode: BillingMode,
  /** Postpaid only: the most the account may owe, GST included. */
  creditLimit: Type.Optional(NonNegativeMoneyAmount),
});

export const UpdateBillingProfile = command('UpdateBillingProfile', {
  legalName: Type.Optional(Text(200)),
  contact: Type.Optional(Contact),
  billingAddress: Type.Optional(BillingAddress),
  /** A GSTIN, or null to remove it. */
  gstin: Type.Optional(Type.Union([Gstin, Type.Null()])),
});

export const SetCreditLimit = command('SetCreditLimit', { creditLimit: NonNegativeMoneyAmount });

export const AssignNumber = command('AssignNumber', {
  kind: NumberKind,
  number: Type.String({ pattern: '^\\d{2,11}$' }),
});
export const ReleaseNumber = command('ReleaseNumber', {
  kind: NumberKind,
  number: Type.String({ pattern: '^\\d{2,11}$' }),
});

export const Subscribe = command('Subscribe', {
  planId: PlanId,
  cycle: BillingCycle,
  /** First day of the first period (IST); today when absent. */
  startOn: Type.Optional(LocalDate),
});

export const ChangePlan = command('ChangePlan', { planId: PlanId, cycle: Type.Optional(BillingCycle) });

export const CancelSubscription = command('CancelSubscription', {
  when: Type.Union([Type.Literal('now'), Type.Literal('period_end')]),
  reason: Type.Optional(Text(500)),
});

/**
 * Charges, in advance, every period of the subscription that has started by `on` and is not charged
 * yet (renewal), applying scheduled plan changes and cancellations at their period start.
 */
export const ChargeSubscription = command('ChargeSubscription', { on: LocalDate });

export const AddAddOn = command('AddAddOn', {
  addOnId: AddOnId,
  quantity: Type.Integer({ minimum: 1, maximum: 1_000 }),
});
export const RemoveAddOn = command('RemoveAddOn', {
  addOnId: AddOnId,
  quantity: Type.Integer({ minimum: 1, maximum: 1_000 }),
});

export const RecordPayment = command('RecordPayment', {
  /** The gateway's payment id: a payment is recorded once, however often it is reported. */
  paymentId: Type.String({ minLength: 1, maxLength: 100 }),
  gateway: Type.Union([Type.Literal('razorpay'), Type.Literal('stripe'), Type.Literal('manual')]),
  amount: PositivePaiseAmount,
  purpose: Type.Union([Type.Literal('topup'), Type.Literal('invoice'), Type.Literal('subscription')]),
  reference: Type.Optional(Type.String({ maxLength: 100 })),
});

/** A GST-inclusive recharge of a prepaid wallet (SPEC §6). */
export const TopUpWallet = command('TopUpWallet', {
  amount: PositivePaiseAmount,
  paymentId: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
});

/** An administrator's credit (positive) or debit (negative) of the wallet, with a reason. */
export const AdjustWallet = command('AdjustWallet', { amount: MoneyAmount, reason: Text(500) });

export const StartCall = command('StartCall', {
  /** FreeSWITCH's call uuid (`variable_uuid`) of the A-leg. */
  callId: Type.String({ minLength: 1, maxLength: 100 }),
  destination: DialledNumber,
  at: Instant,
});

/** Recomputes an open call's limit after the balance grew (a top-up during the call). */
export const ExtendReservation = command('ExtendReservation', {
  callId: Type.String({ minLength: 1, maxLength: 100 }),
});

export const Cdr = Type.Object(
  {
    callId: Type.String({ minLength: 1, maxLength: 100 }),
    leg: Type.Union([Type.Literal('A'), Type.Literal('B')]),
    destination: DialledNumber,
    startedAt: Instant,
    answeredAt: Type.Union([Instant, Type.Null()]),
    /** Billable time in milliseconds (FreeSWITCH `billmsec`, or `billusec` / 1000). */
    billableMilliseconds: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
    hangupCause: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { ...options, $id: 'https://khata.dev/schemas/cdr.json', title: 'Cdr' },
);

export const RateCdr = command('RateCdr', { cdr: Cdr });

export const ExpireReservation = command('ExpireReservation', {
  callId: Type.String({ minLength: 1, maxLength: 100 }),
});

/**
 * The reservation sweeper (SPEC §8): expires every open reservation of the account whose `expiresAt` has passed.
 * `dueBy` is the time the sweep was scheduled for: a reservation due by then but not yet due by the ledger's clock
 * (clocks apart between hosts) refuses the whole sweep with `RESERVATION_NOT_EXPIRED`, so it runs again later
 * instead of leaving that reservation open.
 */
export const ExpireReservations = command('ExpireReservations', {
  dueBy: Type.Optional(Instant),
});

/**
 * Releases a reservation before its time because the call no longer exists (FreeSWITCH, asked after a
 * reconnect, does not know it). A CDR that still arrives is charged without a reservation and flagged.
 */
export const ReleaseReservation = command('ReleaseReservation', {
  callId: Type.String({ minLength: 1, maxLength: 100 }),
  reason: Text(500),
});

/** Starts the usage month containing `on` (free minutes reset); a no-op when it has started. */
export const StartUsageMonth = command('StartUsageMonth', { on: LocalDate });

const RatedCall = Type.Object(
  {
    callId: Type.String({ minLength: 1, maxLength: 100 }),
    destination: DialledNumber,
    tariffId: Type.String({ minLength: 1, maxLength: 100 }),
    answeredAt: Type.Union([Instant, Type.Null()]),
    billableMilliseconds: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
    /** What the call costs now (its CdrRated, or its latest CallRerated). */
    cost: NonNegativeMoneyAmount,
    freeSecondsUsed: Type.Integer({ minimum: 0 }),
    usageMonthStart: Type.Union([LocalDate, Type.Null()]),
  },
  { additionalProperties: false },
);

/**
 * Re-rates the calls of whole usage months against the current tariffs (after a tariff correction):
 * each call is priced again in answer-time order, free minutes consumed afresh, and every difference is
 * appended as a compensating CallRerated event. History is never edited. The command handler fills in
 * `months` and `calls` from the account's stream; callers give the period and the reason.
 */
export const RerateUsage = command('RerateUsage', {
  from: LocalDate,
  to: LocalDate,
  reason: Text(500),
  months: Type.Array(
    Type.Object(
      { start: LocalDate, end: LocalDate, freeSeconds: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
    { maxItems: 24 },
  ),
  calls: Type.Array(RatedCall, { maxItems: 200_000 }),
});

export const SuspendAccount = command('SuspendAccount', { reason: Text(500) });
export const ReinstateAccount = command('ReinstateAccount', { reason: Text(500) });
export const CloseAccount = command('CloseAccount', { reason: Text(500) });

export const accountCommandSchemas = [
  OpenAccount,
  UpdateBillingProfile,
  SetCreditLimit,
  AssignNumber,
  ReleaseNumber,
  Subscribe,
  ChangePlan,
  CancelSubscription,
  ChargeSubscription,
  AddAddOn,
  RemoveAddOn,
  RecordPayment,
  TopUpWallet,
  AdjustWallet,
  StartCall,
  ExtendReservation,
  RateCdr,
  ExpireReservation,
  ExpireReservations,
  ReleaseReservation,
  StartUsageMonth,
  RerateUsage,
  SuspendAccount,
  ReinstateAccount,
  CloseAccount,
] as const;

const anyAccountCommand = Type.Union([...accountCommandSchemas]);

/**
 * Any account command, told apart by `type` (a JSON Schema `oneOf` with an OpenAPI `discriminator`): a
 * validator looks at `type` and checks the one command it names, instead of trying every command in turn,
 * and an invalid command is reported against its own schema only.
 */
export const AccountCommand = Type.Unsafe<Static<typeof anyAccountCommand>>({
  $id: 'https://khata.dev/schemas/commands/AccountCommand.json',
  title: 'AccountCommand',
  type: 'object',
  properties: { type: { type: 'string' } },
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [...accountCommandSchemas],
});

export type AccountCommand = Static<typeof AccountCommand>;
export type AccountCommandType = AccountCommand['type'];
export type CommandOf<T extends AccountCommandType> = Extract<AccountCommand, { type: T }>;
export type CdrInput = Static<typeof Cdr>;
