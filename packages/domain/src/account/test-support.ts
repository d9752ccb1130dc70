/**
 * Rules and helpers for the account decider's tests: the SPEC §5 plans and add-ons built by hand (the
 * catalog files are tested against the same numbers where they are loaded), and a small
 * given-when-then runner in the spirit of Emmett's DeciderSpecification.
 */
import type { AccountCommand, AccountEvent } from '@khata/schemas';
import { Money } from '../money/money.ts';
import { parseTariff, planOverageTariff } from '../rating/tariff.ts';
import { createAccountDecider } from './decide.ts';
import type { Decided } from './decision.ts';
import { isRejection, type Rejection } from './rejections.ts';
import {
  type AccountRules,
  type AddOnTerms,
  BACKDATE_DAYS_MAX_DEFAULT,
  CALL_SECONDS_MAX_DEFAULT,
  PLAN_DESTINATION_PREFIXES_DEFAULT,
  type PlanTerms,
  RESERVATION_GRACE_SECONDS_DEFAULT,
} from './rules.ts';
import { type AccountState, evolve, initialState } from './state.ts';

function plan(
  id: string,
  name: string,
  monthly: string,
  quarterly: string,
  annual: string,
  numbers: [number, number, number],
  overage: string,
  pulseSeconds = 60,
): PlanTerms {
  return {
    id,
    name,
    prices: { monthly: Money.parse(monthly), quarterly: Money.parse(quarterly), annual: Money.parse(annual) },
    includedTollFreeNumbers: numbers[0],
    freeMinutesPerMonth: numbers[1],
    includedExtensions: numbers[2],
    overageTariff: parseTariff(
      planOverageTariff({ id: `${id}-overage`, pricePerMinute: overage, pulseSeconds, decimals: 2 }),
    ),
    pulseSeconds,
  };
}

export const PLANS: Record<string, PlanTerms> = {
  starter: plan('starter', 'Starter', '349', '1047', '3348', [1, 100, 2], '1.99'),
  professional: plan('professional', 'Professional', '999', '2997', '9590', [2, 500, 10], '1.60'),
  'call-center': plan('call-center', 'Call Center', '4999', '14997', '47990', [5, 1500, 50], '1.45'),
  'per-second': plan('per-second', 'Per second', '999', '2997', '9590', [2, 500, 10], '1.20', 1),
  /** One free minute, so tests reach overage quickly. */
  tiny: plan('tiny', 'Tiny', '100', '300', '1200', [1, 1, 2], '1.60'),
};

const addOn = (id: string, monthly: string, grants: AddOnTerms['grants']): AddOnTerms => ({
  id,
  name: id,
  prices: {
    monthly: Money.parse(monthly),
    quarterly: Money.parse(monthly).times(3n),
    annual: Money.parse(monthly).times(12n),
  },
  grants,
});

export const ADD_ONS: Record<string, AddOnTerms> = {
  'extra-toll-free-number': addOn('extra-toll-free-number', '199', { tollFreeNumbers: 1, extensions: 0 }),
  'extra-extension': addOn('extra-extension', '99', { tollFreeNumbers: 0, extensions: 1 }),
};

export const INTERNATIONAL = parseTariff({
  id: 'intl-2026',
  currency: 'INR',
  timezone: 'Asia/Kolkata',
  destinations: [
    {
      name: 'UK',
      prefixes: ['44'],
      ratePlans: [
        {
          days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
          from: '00:00',
          weight: 10,
          connectFee: '0.40',
          rounding: { method: 'up', decimals: 2 },
          steps: [{ from: 0, price: '6.00', unit: 60, increment: 60 }],
        },
      ],
    },
  ],
});

export function testRules(overrides: Partial<AccountRules> = {}): AccountRules {
  return {
    plan: (id) => PLANS[id],
    addOn: (id) => ADD_ONS[id],
    planDestinationPrefixes: PLAN_DESTINATION_PREFIXES_DEFAULT,
    destinationTariff: INTERNATIONAL,
    supplierState: '29',
    gstRatePercent: 18,
    callSecondsMax: CALL_SECONDS_MAX_DEFAULT,
    reservationGraceSeconds: RESERVATION_GRACE_SECONDS_DEFAULT,
    backdateDaysMax: BACKDATE_DAYS_MAX_DEFAULT,
    ...overrides,
  };
}

export const ACCOUNT_ID = '6f1c2f0e-8d1a-4c1e-9c2b-3f4a5b6c7d8e';
let counter = 0;
/** A fresh, valid command id (tests only; the domain never makes ids). */
export function commandId(): string {
  counter += 1;
  return `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`;
}

export function openAccount(overrides: Partial<Extract<AccountCommand, { type: 'OpenAccount' }>> = {}): AccountCommand {
  return {
    type: 'OpenAccount',
    commandId: commandId(),
    accountId: ACCOUNT_ID,
    legalName: 'Acme Contact Centre Pvt Ltd',
    contact: { name: 'Asha Rao', email: 'asha@acme.example', phone: '+91 98450 00000' },
    billingAddress: { line1: '12 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode: 'prepaid',
    ...overrides,
  };
}

/** `cmd('TopUpWallet', { amount: '1180.00' })` with envelope fields filled in. */
export function cmd<T extends AccountCommand['type']>(
  type: T,
  fields: Omit<Extract<AccountCommand, { type: T }>, 'type' | 'commandId' | 'accountId'>,
): Extract<AccountCommand, { type: T }> {
  return { type, commandId: commandId(), accountId: ACCOUNT_ID, ...fields } as Extract<AccountCommand, { type: T }>;
}

/** Runs commands in order from an empty account, each at its own instant; fails on the first rejection. */
export class Scenario {
  readonly decider;
  state: AccountState = initialState();
  readonly history: AccountEvent[] = [];

  constructor(rules: AccountRules = testRules()) {
    this.decider = createAccountDecider(rules);
  }

  /** Decides and applies; returns the events, or the rejection without changing anything. */
  attempt(command: AccountCommand, at: string): readonly Decided[] | Rejection {
    const decision = this.decider.decide(command, this.state, new Date(at));
    if (isRejection(decision)) return decision;
    for (const event of decision) {
      this.state = evolve(this.state, event);
      this.history.push(event);
    }
    return decision;
  }

  run(command: AccountCommand, at: string): readonly Decided[] {
    const decision = this.attempt(command, at);
    if (isRejection(decision)) throw new Error(`${command.type} rejected: ${decision.code} ${decision.message}`);
    return decision;
  }
}

export function types(events: readonly { type: string }[]): string[] {
  return events.map((event) => event.type);
}
