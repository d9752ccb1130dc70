/**
 * Subscription commands: subscribe, renew (charge in advance at each period start), change plan
 * (upgrade now with daily proration, downgrade at period end), cancel (at period end, or now with a
 * prorated credit), add-ons, and the monthly free-minutes reset. Periods are IST calendar periods
 * anchored on the subscription's start date (`time/calendar.ts`).
 */
import type { CommandOf, EventOf } from '@khata/schemas';
import { type Fraction, Money } from '../money/money.ts';
import {
  addDays,
  compareLocalDates,
  daysBetween,
  formatLocalDate,
  parseLocalDate,
  periodAt,
  periodContaining,
} from '../time/calendar.ts';
import { applyAll, availableCredit, type Decided, type Decision, numberLimits, todayOf } from './decision.ts';
import { isRejection, type Rejection, reject } from './rejections.ts';
import { type AccountRules, CYCLE_MONTHS, type PlanTerms, RENEWAL_PERIODS_MAX } from './rules.ts';
import { type AccountState, type BillingCycle, evolve, type Subscription } from './state.ts';

const PAISA_DECIMALS = 2;

/** The usage month (free minutes) containing `today`, if it has not started yet in the state. */
export function usageMonthDue(
  state: AccountState,
  rules: AccountRules,
  today: string,
): EventOf<'UsageMonthStarted'> | null {
  const subscription = state.subscription;
  if (subscription === null) return null;
  const day = parseLocalDate(today);
  const anchor = parseLocalDate(subscription.anchor);
  if (compareLocalDates(day, anchor) < 0) return null;
  const month = periodContaining(anchor, 1, day);
  const start = formatLocalDate(month.start);
  if (state.usageMonth !== null && state.usageMonth.start >= start) return null;
  const plan = rules.plan(subscription.planId) as PlanTerms;
  return {
    type: 'UsageMonthStarted',
    data: { start, end: formatLocalDate(month.end), freeSeconds: plan.freeMinutesPerMonth * 60 },
  };
}

function periodCharge(
  rules: AccountRules,
  planId: string,
  cycle: BillingCycle,
  addOns: Readonly<Record<string, number>>,
) {
  const plan = rules.plan(planId) as PlanTerms;
  const planAmount = plan.prices[cycle];
  const addOnCharges = Object.entries(addOns)
    .filter(([, quantity]) => quantity > 0)
    .map(([addOnId, quantity]) => {
      const addOn = rules.addOn(addOnId);
      const amount = addOn === undefined ? Money.zero : addOn.prices[cycle].times(BigInt(quantity));
      return { addOnId, quantity, amount };
    });
  const amount = planAmount.plus(Money.sum(addOnCharges.map((charge) => charge.amount)));
  return { planAmount, addOnCharges, amount };
}

/**
 * Brings the subscription up to `today`: ends it when a scheduled cancellation has come, applies a
 * scheduled plan change at its period start, and charges every period that has started and is not
 * charged yet (renewal, in advance). A prepaid account whose wallet cannot pay the next period stops
 * there: the events so far stand, and `unpaid` says why the rest could not be charged.
 */
export function catchUpSubscription(
  state: AccountState,
  rules: AccountRules,
  today: string,
): { readonly events: readonly Decided[]; readonly state: AccountState; readonly unpaid: Rejection | null } {
  const events: Decided[] = [];
  let current = state;
  const push = (event: Decided): void => {
    events.push(event);
    current = evolve(current, event);
  };
  const day = parseLocalDate(today);
  for (let step = 0; step < RENEWAL_PERIODS_MAX * 2; step += 1) {
    const subscription = current.subscription;
    if (subscription === null) break;
    const nextIndex = subscription.chargedThrough + 1;
    const next = periodAt(parseLocalDate(subscription.anchor), CYCLE_MONTHS[subscription.cycle], nextIndex);
    if (compareLocalDates(next.start, day) > 0) break;
    const nextStart = formatLocalDate(next.start);

    if (subscription.cancellation !== null && subscription.cancellation.effectiveOn <= nextStart) {
      push({
        type: 'SubscriptionEnded',
        data: { subscriptionId: subscription.subscriptionId, endedOn: subscription.cancellation.effectiveOn },
      });
      break;
    }
    const change = subscription.pendingChange;
    if (change !== null && change.effectiveOn <= nextStart) {
      const cycleChanged = change.cycle !== subscription.cycle;
      const anchor = cycleChanged ? next.start : parseLocalDate(subscription.anchor);
      const period = cycleChanged ? periodAt(anchor, CYCLE_MONTHS[change.cycle], 0) : next;
      push({
        type: 'PlanChanged',
        data: {
          subscriptionId: subscription.subscriptionId,
          fromPlanId: subscription.planId,
          fromCycle: subscription.cycle,
          toPlanId: change.planId,
          toCycle: change.cycle,
          effectiveOn: nextStart,
          timing: 'period_start',
          credit: '0.00',
          charge: '0.00',
          remainingDays: 0,
          periodDays: daysBetween(period.start, period.end),
          anchor: formatLocalDate(anchor),
          periodStart: formatLocalDate(period.start),
          periodEnd: formatLocalDate(period.end),
        },
      });
      continue;
    }
    const { planAmount, addOnCharges, amount } = periodCharge(
      rules,
      subscription.planId,
      subscription.cycle,
      subscription.addOns,
    );
    if (current.billingMode === 'prepaid' && availableCredit(current, rules).compare(amount) < 0) {
      const unpaid = reject('INSUFFICIENT_FUNDS', `the wallet cannot pay the period starting ${nextStart}`, {
        required: amount.toString(),
        available: availableCredit(current, rules).toString(),
      });
      return { events, state: current, unpaid };
    }
    push({
      type: 'SubscriptionCharged',
      data: {
        subscriptionId: subscription.subscriptionId,
        periodIndex: nextIndex,
        periodStart: nextStart,
        periodEnd: formatLocalDate(next.end),
        planId: subscription.planId,
        cycle: subscription.cycle,
        planAmount: planAmount.toString(),
        addOns: addOnCharges.map((charge) => ({ ...charge, amount: charge.amount.toString() })),
        amount: amount.toString(),
      },
    });
  }
  const month = usageMonthDue(current, rules, today);
  if (month !== null) push(month);
  return { events, state: current, unpaid: null };
}

/** The subscription, renewed up to today and paid for the period containing today, or why not. */
export function currentSubscription(
  state: AccountState,
  rules: AccountRules,
  today: string,
):
  | { readonly events: readonly Decided[]; readonly state: AccountState; readonly subscription: Subscription }
  | Rejection {
  const caughtUp = catchUpSubscription(state, rules, today);
  const subscription = caughtUp.state.subscription;
  if (subscription === null) return reject('NO_ACTIVE_SUBSCRIPTION', 'the account has no active subscription');
  const paid =
    subscription.chargedThrough >= subscription.periodIndex &&
    today < subscription.periodEnd &&
    today >= subscription.periodStart;
  if (!paid) {
    return reject('SUBSCRIPTION_UNPAID', 'the current period of the subscription is not paid', {
      reason: caughtUp.unpaid?.message ?? null,
      required: caughtUp.unpaid?.details?.required ?? null,
    });
  }
  return { events: caughtUp.events, state: caughtUp.state, subscription };
}

export function subscribe(
  command: CommandOf<'Subscribe'>,
  state: AccountState,
  now: Date,
  rules: AccountRules,
  subscriptionId: string,
): Decision {
  if (state.subscription !== null) return reject('ALREADY_SUBSCRIBED', 'the account already has a subscription');
  const plan = rules.plan(command.planId);
  if (plan === undefined) return reject('UNKNOWN_PLAN', `no plan ${command.planId} in the catalog`);
  const today = todayOf(now);
  const startOn = command.startOn ?? today;
  const start = parseLocalDate(startOn);
  const earliest = addDays(parseLocalDate(today), -rules.backdateDaysMax);
  if (compareLocalDates(start, earliest) < 0) {
    return reject('INVALID_START_DATE', `a subscription may start at most ${rules.backdateDaysMax} days ago`);
  }
  const limits = numberLimits(rules, plan, {});
  if (state.tollFreeNumbers.length > limits.tollFree || state.extensions.length > limits.extensions) {
    return reject('PLAN_LIMIT_REACHED', `${plan.name} allows fewer numbers than the account holds`);
  }
  const period = periodAt(start, CYCLE_MONTHS[command.cycle], 0);
  const started: Decided = {
    type: 'SubscriptionStarted',
    data: {
      subscriptionId,
      planId: plan.id,
      cycle: command.cycle,
      anchor: startOn,
      periodStart: formatLocalDate(period.start),
      periodEnd: formatLocalDate(period.end),
    },
  };
  const afterStart = evolve(state, started);
  const caughtUp = catchUpSubscription(afterStart, rules, today);
  if (caughtUp.unpaid !== null) return caughtUp.unpaid;
  return [started, ...caughtUp.events];
}

export function chargeSubscription(
  command: CommandOf<'ChargeSubscription'>,
  state: AccountState,
  rules: AccountRules,
): Decision {
  if (state.subscription === null) return reject('NO_ACTIVE_SUBSCRIPTION', 'the account has no active subscription');
  const caughtUp = catchUpSubscription(state, rules, command.on);
  if (caughtUp.events.length === 0 && caughtUp.unpaid !== null) return caughtUp.unpaid;
  return caughtUp.events;
}

export function startUsageMonth(
  command: CommandOf<'StartUsageMonth'>,
  state: AccountState,
  rules: AccountRules,
): Decision {
  if (state.subscription === null) return reject('NO_ACTIVE_SUBSCRIPTION', 'the account has no active subscription');
  const month = usageMonthDue(state, rules, command.on);
  return month === null ? [] : [month];
}

/** The share of `amount` for `remainingDays` of `periodDays`, half-up to paise (one rounding). */
function prorate(amount: Money, remainingDays: number, periodDays: number): Money {
  return amount
    .toFraction()
    .times(BigInt(remainingDays))
    .dividedBy(BigInt(periodDays))
    .toMoney(PAISA_DECIMALS, 'half-up');
}

function perMonth(rules: AccountRules, planId: string, cycle: BillingCycle): Fraction {
  const plan = rules.plan(planId) as PlanTerms;
  return plan.prices[cycle].toFraction().dividedBy(BigInt(CYCLE_MONTHS[cycle]));
}

export function changePlan(
  command: CommandOf<'ChangePlan'>,
  state: AccountState,
  now: Date,
  rules: AccountRules,
): Decision {
  const today = todayOf(now);
  const current = currentSubscription(state, rules, today);
  if (isRejection(current)) return current;
  const { subscription } = current;
  const target = rules.plan(command.planId);
  if (target === undefined) return reject('UNKNOWN_PLAN', `no plan ${command.planId} in the catalog`);
  const cycle = command.cycle ?? subscription.cycle;
  if (target.id === subscription.planId && cycle === subscription.cycle) {
    return reject('SAME_PLAN', 'the subscription is already on that plan and cycle');
  }
  if (subscription.cancellation !== null) {
    return reject('SUBSCRIPTION_CANCELLED', `the subscription ends on ${subscription.cancellation.effectiveOn}`);
  }
  const limits = numberLimits(rules, target, subscription.addOns);
  if (current.state.tollFreeNumbers.length > limits.tollFree || current.state.extensions.length > limits.extensions) {
    return reject(
      'PLAN_LIMIT_REACHED',
      `${target.name} allows fewer numbers than the account holds; release some first`,
      {
        tollFreeLimit: limits.tollFree,
        extensionLimit: limits.extensions,
      },
    );
  }
  // Upgrade or downgrade by price per month (Lago's rule): a plan that costs at least as much per month
  // applies now, anything cheaper at the end of the paid period.
  const upgrade =
    perMonth(rules, target.id, cycle).compare(perMonth(rules, subscription.planId, subscription.cycle)) >= 0;
  if (!upgrade) {
    return [
      ...current.events,
      {
        type: 'PlanChangeScheduled',
        data: {
          subscriptionId: subscription.subscriptionId,
          toPlanId: target.id,
          toCycle: cycle,
          effectiveOn: subscription.periodEnd,
        },
      },
    ];
  }
  const periodStart = parseLocalDate(subscription.periodStart);
  const periodEnd = parseLocalDate(subscription.periodEnd);
  const day = parseLocalDate(today);
  const periodDays = daysBetween(periodStart, periodEnd);
  const remainingDays = daysBetween(day, periodEnd);
  const oldPlan = rules.plan(subscription.planId) as PlanTerms;
  const credit = prorate(oldPlan.prices[subscription.cycle], remainingDays, periodDays);
  const cycleChanged = cycle !== subscription.cycle;
  // Same cycle: the new plan for the rest of this period. New cycle: a whole new period from today, so
  // the old plan's unused days are credited and the new cycle is charged in full (never the old
  // plan's days at the new cycle's price).
  const newPeriod = cycleChanged ? periodAt(day, CYCLE_MONTHS[cycle], 0) : { start: periodStart, end: periodEnd };
  const charge = cycleChanged ? target.prices[cycle] : prorate(target.prices[cycle], remainingDays, periodDays);
  const afterRenewal = current.state;
  if (afterRenewal.billingMode === 'prepaid' && availableCredit(afterRenewal, rules).plus(credit).compare(charge) < 0) {
    return reject('INSUFFICIENT_FUNDS', 'the wallet cannot pay the upgrade', {
      required: charge.minus(credit).toString(),
      available: availableCredit(afterRenewal, rules).toString(),
    });
  }
  return [
    ...current.events,
    {
      type: 'PlanChanged',
      data: {
        subscriptionId: subscription.subscriptionId,
        fromPlanId: subscription.planId,
        fromCycle: subscription.cycle,
        toPlanId: target.id,
        toCycle: cycle,
        effectiveOn: today,
        timing: 'now',
        credit: credit.toString(),
        charge: charge.toString(),
        remainingDays,
        periodDays,
        anchor: cycleChanged ? today : subscription.anchor,
        periodStart: formatLocalDate(newPeriod.start),
        periodEnd: formatLocalDate(newPeriod.end),
      },
    },
  ];
}

export function cancelSubscription(
  command: CommandOf<'CancelSubscription'>,
  state: AccountState,
  now: Date,
  rules: AccountRules,
): Decision {
  const today = todayOf(now);
  const caughtUp = catchUpSubscription(state, rules, today);
  const subscription = caughtUp.state.subscription;
  if (subscription === null) return reject('NO_ACTIVE_SUBSCRIPTION', 'the account has no active subscription');
  const reason = command.reason ?? null;
  if (command.when === 'period_end') {
    if (subscription.cancellation !== null) {
      return reject(
        'SUBSCRIPTION_CANCELLED',
        `the subscription already ends on ${subscription.cancellation.effectiveOn}`,
      );
    }
    return [
      ...caughtUp.events,
      {
        type: 'SubscriptionCancelled',
        data: {
          subscriptionId: subscription.subscriptionId,
          when: 'period_end',
          effectiveOn: subscription.periodEnd,
          credit: '0.00',
          reason,
        },
      },
    ];
  }
  // Cancel now: credit the unused days of what this period was charged (plan and add-ons), if it was.
  const paid = subscription.chargedThrough >= subscription.periodIndex && today >= subscription.periodStart;
  let credit = Money.zero;
  let remainingDays = 0;
  if (paid && today < subscription.periodEnd) {
    const start = parseLocalDate(subscription.periodStart);
    const end = parseLocalDate(subscription.periodEnd);
    remainingDays = daysBetween(parseLocalDate(today), end);
    const { amount } = periodCharge(rules, subscription.planId, subscription.cycle, subscription.addOns);
    credit = prorate(amount, remainingDays, daysBetween(start, end));
  }
  return [
    ...caughtUp.events,
    {
      type: 'SubscriptionCancelled',
      data: {
        subscriptionId: subscription.subscriptionId,
        when: 'now',
        effectiveOn: today,
        credit: credit.toString(),
        reason,
      },
    },
  ];
}

export function addAddOn(
  command: CommandOf<'AddAddOn'>,
  state: AccountState,
  now: Date,
  rules: AccountRules,
): Decision {
  const today = todayOf(now);
  const current = currentSubscription(state, rules, today);
  if (isRejection(current)) return current;
  const addOn = rules.addOn(command.addOnId);
  if (addOn === undefined) return reject('UNKNOWN_ADD_ON', `no add-on ${command.addOnId} in the catalog`);
  const { subscription } = current;
  const periodDays = daysBetween(parseLocalDate(subscription.periodStart), parseLocalDate(subscription.periodEnd));
  const remainingDays = daysBetween(parseLocalDate(today), parseLocalDate(subscription.periodEnd));
  const charge = prorate(addOn.prices[subscription.cycle].times(BigInt(command.quantity)), remainingDays, periodDays);
  if (current.state.billingMode === 'prepaid' && availableCredit(current.state, rules).compare(charge) < 0) {
    return reject('INSUFFICIENT_FUNDS', 'the wallet cannot pay the add-on', { required: charge.toString() });
  }
  return [
    ...current.events,
    {
      type: 'AddOnAdded',
      data: { addOnId: addOn.id, quantity: command.quantity, charge: charge.toString(), remainingDays, periodDays },
    },
  ];
}

/** Removal takes effect at once and credits nothing for the rest of the period (documented policy). */
export function removeAddOn(command: CommandOf<'RemoveAddOn'>, state: AccountState, rules: AccountRules): Decision {
  const subscription = state.subscription;
  if (subscription === null) return reject('NO_ACTIVE_SUBSCRIPTION', 'the account has no active subscription');
  const present = subscription.addOns[command.addOnId] ?? 0;
  if (present < command.quantity) {
    return reject('ADD_ON_NOT_PRESENT', `the subscription has ${present} of ${command.addOnId}`);
  }
  const remaining = { ...subscription.addOns, [command.addOnId]: present - command.quantity };
  const limits = numberLimits(rules, rules.plan(subscription.planId) as PlanTerms, remaining);
  if (state.tollFreeNumbers.length > limits.tollFree || state.extensions.length > limits.extensions) {
    return reject('PLAN_LIMIT_REACHED', 'the account holds numbers this add-on pays for; release them first');
  }
  return [{ type: 'AddOnRemoved', data: { addOnId: command.addOnId, quantity: command.quantity } }];
}

export { applyAll };
