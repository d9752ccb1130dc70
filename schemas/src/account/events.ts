/**
 * Events of an account stream. Past-tense names; each has a `schemaVersion` (the `CURRENT` map) and a
 * schema for every version still found in stored streams, so that older events are upcast on read.
 * Amounts are decimal strings in rupees; instants ISO 8601; dates `YYYY-MM-DD` in IST.
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
  StateCode,
  Text,
} from '../common.ts';

const eventData = <Fields extends Parameters<typeof Type.Object>[0]>(type: string, version: number, fields: Fields) =>
  Type.Object(fields, {
    additionalProperties: false,
    $id: `https://khata.dev/schemas/events/${type}.v${version}.json`,
    title: `${type} v${version}`,
  });

const CallId = Type.String({ minLength: 1, maxLength: 100 });

export const AccountOpened = eventData('AccountOpened', 1, {
  accountId: Type.String({ format: 'uuid' }),
  legalName: Text(200),
  contact: Contact,
  billingAddress: BillingAddress,
  gstin: Type.Union([Gstin, Type.Null()]),
  billingMode: BillingMode,
  creditLimit: NonNegativeMoneyAmount,
  openedAt: Instant,
});

export const BillingProfileUpdated = eventData('BillingProfileUpdated', 1, {
  legalName: Type.Optional(Text(200)),
  contact: Type.Optional(Contact),
  billingAddress: Type.Optional(BillingAddress),
  gstin: Type.Optional(Type.Union([Gstin, Type.Null()])),
});

export const CreditLimitChanged = eventData('CreditLimitChanged', 1, {
  creditLimit: NonNegativeMoneyAmount,
});

export const NumberAssigned = eventData('NumberAssigned', 1, { kind: NumberKind, number: Type.String() });
export const NumberReleased = eventData('NumberReleased', 1, { kind: NumberKind, number: Type.String() });

export const SubscriptionStarted = eventData('SubscriptionStarted', 1, {
  subscriptionId: Type.String({ format: 'uuid' }),
  planId: PlanId,
  cycle: BillingCycle,
  /** Periods are counted from this date, keeping its day of month. */
  anchor: LocalDate,
  periodStart: LocalDate,
  periodEnd: LocalDate,
});

const AddOnCharge = Type.Object(
  { addOnId: AddOnId, quantity: Type.Integer({ minimum: 1 }), amount: NonNegativeMoneyAmount },
  { additionalProperties: false },
);

export const SubscriptionCharged = eventData('SubscriptionCharged', 1, {
  subscriptionId: Type.String({ format: 'uuid' }),
  periodIndex: Type.Integer({ minimum: 0 }),
  periodStart: LocalDate,
  periodEnd: LocalDate,
  planId: PlanId,
  cycle: BillingCycle,
  planAmount: NonNegativeMoneyAmount,
  addOns: Type.Array(AddOnCharge),
  /** Plan plus add-ons, before GST. */
  amount: NonNegativeMoneyAmount,
});

export const PlanChanged = eventData('PlanChanged', 1, {
  subscriptionId: Type.String({ format: 'uuid' }),
  fromPlanId: PlanId,
  fromCycle: BillingCycle,
  toPlanId: PlanId,
  toCycle: BillingCycle,
  effectiveOn: LocalDate,
  /** `now`: an upgrade applied mid-period with proration; `period_start`: a scheduled change taking effect. */
  timing: Type.Union([Type.Literal('now'), Type.Literal('period_start')]),
  /** Unused part of the old plan's period, credited (≥ 0). */
  credit: NonNegativeMoneyAmount,
  /** The new plan for the rest of the period (same cycle) or a whole new period (new cycle), charged (≥ 0). */
  charge: NonNegativeMoneyAmount,
  remainingDays: Type.Integer({ minimum: 0 }),
  periodDays: Type.Integer({ minimum: 1 }),
  anchor: LocalDate,
  periodStart: LocalDate,
  periodEnd: LocalDate,
});

export const PlanChangeScheduled = eventData('PlanChangeScheduled', 1, {
  subscriptionId: Type.String({ format: 'uuid' }),
  toPlanId: PlanId,
  toCycle: BillingCycle,
  effectiveOn: LocalDate,
});

export const SubscriptionCancelled = eventData('SubscriptionCancelled', 1, {
  subscriptionId: Type.String({ format: 'uuid' }),
  when: Type.Union([Type.Literal('now'), Type.Literal('period_end')]),
  effectiveOn: LocalDate,
  /** Prorated credit for the unused days (cancel now), else 0. */
  credit: NonNegativeMoneyAmount,
  reason: Type.Union([Text(500), Type.Null()]),
});

export const SubscriptionEnded = eventData('SubscriptionEnded', 1, {
  subscriptionId: Type.String({ format: 'uuid' }),
  endedOn: LocalDate,
});

export const AddOnAdded = eventData('AddOnAdded', 1, {
  addOnId: AddOnId,
  quantity: Type.Integer({ minimum: 1 }),
  /** The add-on's price for the rest of the current period, prorated by day. */
  charge: NonNegativeMoneyAmount,
  remainingDays: Type.Integer({ minimum: 0 }),
  periodDays: Type.Integer({ minimum: 1 }),
});

export const AddOnRemoved = eventData('AddOnRemoved', 1, { addOnId: AddOnId, quantity: Type.Integer({ minimum: 1 }) });

export const UsageMonthStarted = eventData('UsageMonthStarted', 1, {
  start: LocalDate,
  end: LocalDate,
  freeSeconds: Type.Integer({ minimum: 0 }),
});

export const PaymentRecorded = eventData('PaymentRecorded', 1, {
  paymentId: Type.String(),
  gateway: Type.Union([Type.Literal('razorpay'), Type.Literal('stripe'), Type.Literal('manual')]),
  amount: NonNegativeMoneyAmount,
  purpose: Type.Union([Type.Literal('topup'), Type.Literal('invoice'), Type.Literal('subscription')]),
  reference: Type.Union([Type.String(), Type.Null()]),
  recordedAt: Instant,
});

const TaxHeads = Type.Object(
  {
    cgst: NonNegativeMoneyAmount,
    sgst: NonNegativeMoneyAmount,
    utgst: NonNegativeMoneyAmount,
    igst: NonNegativeMoneyAmount,
  },
  { additionalProperties: false },
);

export const WalletToppedUp = eventData('WalletToppedUp', 1, {
  /** What the customer paid, GST included. */
  gross: NonNegativeMoneyAmount,
  /** gross / 1.18, half-up to paise: what the wallet is credited. */
  taxable: NonNegativeMoneyAmount,
  tax: TaxHeads,
  supplierState: StateCode,
  placeOfSupply: StateCode,
  paymentId: Type.Union([Type.String(), Type.Null()]),
});

export const WalletAdjusted = eventData('WalletAdjusted', 1, {
  amount: MoneyAmount,
  reason: Text(500),
});

export const CallAuthorized = eventData('CallAuthorized', 1, {
  callId: CallId,
  destination: DialledNumber,
  destinationName: Type.String(),
  tariffId: Type.String(),
  /** `plan`: the plan's free minutes and overage; `tariff`: a destination priced by the account's tariff. */
  basis: Type.Union([Type.Literal('plan'), Type.Literal('tariff')]),
  maxSeconds: Type.Integer({ minimum: 1 }),
  reservedAmount: NonNegativeMoneyAmount,
  reservedFreeSeconds: Type.Integer({ minimum: 0 }),
  authorizedAt: Instant,
  expiresAt: Instant,
});

export const ReservationExtended = eventData('ReservationExtended', 1, {
  callId: CallId,
  maxSeconds: Type.Integer({ minimum: 1 }),
  additionalAmount: NonNegativeMoneyAmount,
  additionalFreeSeconds: Type.Integer({ minimum: 0 }),
  expiresAt: Instant,
});

const CdrRatedFields = {
  callId: CallId,
  destination: DialledNumber,
  destinationName: Type.String(),
  tariffId: Type.String(),
  answeredAt: Type.Union([Instant, Type.Null()]),
  durationSeconds: Type.Integer({ minimum: 0 }),
  billedSeconds: Type.Integer({ minimum: 0 }),
  freeSecondsUsed: Type.Integer({ minimum: 0 }),
  overageSeconds: Type.Integer({ minimum: 0 }),
  cost: NonNegativeMoneyAmount,
  /** False when the call had no open reservation (it expired, or was never authorized): flagged for review. */
  hadReservation: Type.Boolean(),
  /** The reservation this posting resolves (zero when there was none). */
  reservedAmount: NonNegativeMoneyAmount,
  reservedFreeSeconds: Type.Integer({ minimum: 0 }),
  /** Cost above the reservation, debited anyway and flagged for review. */
  excess: NonNegativeMoneyAmount,
  /** Usage month whose free minutes the call used. */
  usageMonthStart: Type.Union([LocalDate, Type.Null()]),
  ratedAt: Instant,
};

/** v1 stored FreeSWITCH's whole-second `billsec`, which can overstate a call by a second (SPEC §8). */
export const CdrRatedV1 = eventData('CdrRated', 1, { ...CdrRatedFields, billSeconds: Type.Integer({ minimum: 0 }) });

/** v2 keeps the billable milliseconds (`billmsec`) the call was rated on. */
export const CdrRated = eventData('CdrRated', 2, {
  ...CdrRatedFields,
  billableMilliseconds: Type.Integer({ minimum: 0 }),
});

/** A compensating correction of an earlier rated call (re-rating never edits CdrRated). */
export const CallRerated = eventData('CallRerated', 1, {
  callId: CallId,
  tariffId: Type.String(),
  previousCost: NonNegativeMoneyAmount,
  newCost: NonNegativeMoneyAmount,
  /** newCost − previousCost: debited when positive, credited when negative. */
  adjustment: MoneyAmount,
  previousFreeSecondsUsed: Type.Integer({ minimum: 0 }),
  newFreeSecondsUsed: Type.Integer({ minimum: 0 }),
  usageMonthStart: Type.Union([LocalDate, Type.Null()]),
  reason: Text(500),
});

export const ReservationExpired = eventData('ReservationExpired', 1, {
  callId: CallId,
  releasedAmount: NonNegativeMoneyAmount,
  releasedFreeSeconds: Type.Integer({ minimum: 0 }),
  expiredAt: Instant,
});

export const AccountSuspended = eventData('AccountSuspended', 1, { reason: Text(500) });
export const AccountReinstated = eventData('AccountReinstated', 1, { reason: Text(500) });
export const AccountClosed = eventData('AccountClosed', 1, { reason: Text(500) });

/** The current schema of each event type, by name. */
export const accountEventSchemas = {
  AccountOpened,
  BillingProfileUpdated,
  CreditLimitChanged,
  NumberAssigned,
  NumberReleased,
  SubscriptionStarted,
  SubscriptionCharged,
  PlanChanged,
  PlanChangeScheduled,
  SubscriptionCancelled,
  SubscriptionEnded,
  AddOnAdded,
  AddOnRemoved,
  UsageMonthStarted,
  PaymentRecorded,
  WalletToppedUp,
  WalletAdjusted,
  CallAuthorized,
  ReservationExtended,
  CdrRated,
  CallRerated,
  ReservationExpired,
  AccountSuspended,
  AccountReinstated,
  AccountClosed,
} as const;

/** Schemas of superseded versions, kept so stored events can be validated before upcasting. */
export const legacyAccountEventSchemas = { 'CdrRated.v1': CdrRatedV1 } as const;

export type AccountEventType = keyof typeof accountEventSchemas;

/** The current `schemaVersion` of each event type. */
export const CURRENT_EVENT_VERSION: { readonly [K in AccountEventType]: number } = {
  AccountOpened: 1,
  BillingProfileUpdated: 1,
  CreditLimitChanged: 1,
  NumberAssigned: 1,
  NumberReleased: 1,
  SubscriptionStarted: 1,
  SubscriptionCharged: 1,
  PlanChanged: 1,
  PlanChangeScheduled: 1,
  SubscriptionCancelled: 1,
  SubscriptionEnded: 1,
  AddOnAdded: 1,
  AddOnRemoved: 1,
  UsageMonthStarted: 1,
  PaymentRecorded: 1,
  WalletToppedUp: 1,
  WalletAdjusted: 1,
  CallAuthorized: 1,
  ReservationExtended: 1,
  CdrRated: 2,
  CallRerated: 1,
  ReservationExpired: 1,
  AccountSuspended: 1,
  AccountReinstated: 1,
  AccountClosed: 1,
};

/** An account event as the domain sees it: current version, typed data. */
export type AccountEvent = {
  [K in AccountEventType]: { readonly type: K; readonly data: Static<(typeof accountEventSchemas)[K]> };
}[AccountEventType];

export type EventOf<T extends AccountEventType> = Extract<AccountEvent, { type: T }>;
export type CdrRatedV1Data = Static<typeof CdrRatedV1>;
