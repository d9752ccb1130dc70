/**
 * Re-rating (SPEC §7): after a tariff correction, the calls of whole usage months are priced again in
 * answer-time order with the current tariffs, their free minutes consumed afresh from each month's
 * allowance, and every difference becomes a compensating CallRerated event. Stored history is never
 * edited. Deterministic: the same calls, months and tariffs always give the same events.
 */
import type { CommandOf } from '@khata/schemas';
import { Money } from '../money/money.ts';
import { rateWithAllowance } from '../rating/allowance.ts';
import { rateCall } from '../rating/rate.ts';
import type { Tariff } from '../rating/tariff.ts';
import { type Decided, type Decision, todayOf } from './decision.ts';
import { reject } from './rejections.ts';
import type { AccountRules } from './rules.ts';

const MS_PER_SECOND = 1_000;

interface Pricing {
  readonly tariff: Tariff;
  /** Plan overage: the pulse free minutes are counted in; null for a destination tariff (no free minutes). */
  readonly pulseSeconds: number | null;
}

/** The current version of the tariff a call was rated by (by its id), or null when it no longer exists. */
function currentPricing(rules: AccountRules, tariffId: string): Pricing | null {
  if (rules.destinationTariff !== null && rules.destinationTariff.id === tariffId) {
    return { tariff: rules.destinationTariff, pulseSeconds: null };
  }
  const planId = tariffId.endsWith('-overage') ? tariffId.slice(0, -'-overage'.length) : null;
  const plan = planId === null ? undefined : rules.plan(planId);
  return plan === undefined ? null : { tariff: plan.overageTariff, pulseSeconds: plan.pulseSeconds };
}

export function rerateUsage(command: CommandOf<'RerateUsage'>, rules: AccountRules): Decision {
  if (command.from > command.to) return reject('INVALID_START_DATE', 'the period ends before it starts');
  const months = new Map(command.months.map((month) => [month.start, month]));
  const freeLeft = new Map(command.months.map((month) => [month.start, month.freeSeconds]));
  // Answer-time order decides which call got the free minutes; unanswered calls (no time) cost nothing.
  const calls = [...command.calls].sort((a, b) =>
    (a.answeredAt ?? '') === (b.answeredAt ?? '')
      ? a.callId.localeCompare(b.callId)
      : (a.answeredAt ?? '') < (b.answeredAt ?? '')
        ? -1
        : 1,
  );
  const events: Decided[] = [];
  for (const call of calls) {
    const pricing = currentPricing(rules, call.tariffId);
    if (pricing === null) {
      return reject('DESTINATION_NOT_RATED', `tariff ${call.tariffId} of call ${call.callId} no longer exists`);
    }
    const answered = call.answeredAt !== null && call.billableMilliseconds > 0;
    const start = new Date(call.answeredAt ?? command.from);
    const durationSeconds = answered ? Math.ceil(call.billableMilliseconds / MS_PER_SECOND) : 0;
    // The month is the one the call was answered in, whatever the first rating recorded (a call that got
    // no free minutes then may get some now).
    const day = todayOf(start);
    const month = answered ? [...months.values()].find((m) => m.start <= day && day < m.end) : undefined;
    let newCost: Money;
    let newFree = 0;
    if (pricing.pulseSeconds !== null && month !== undefined) {
      const left = freeLeft.get(month.start) ?? 0;
      const rated = rateWithAllowance(
        pricing.tariff,
        { dialled: call.destination, start, durationSeconds, answered },
        { freeSecondsLeft: left, pulseSeconds: pricing.pulseSeconds },
      );
      if (rated === null) return reject('DESTINATION_NOT_RATED', `no tariff rates ${call.destination}`);
      newCost = rated.cost;
      newFree = rated.freeSecondsUsed;
      freeLeft.set(month.start, left - newFree);
    } else {
      const rated = rateCall(pricing.tariff, { dialled: call.destination, start, durationSeconds, answered });
      if (rated === null) return reject('DESTINATION_NOT_RATED', `no tariff rates ${call.destination}`);
      newCost = rated.cost;
    }
    const previousCost = Money.parse(call.cost);
    if (newCost.equals(previousCost) && newFree === call.freeSecondsUsed) continue;
    events.push({
      type: 'CallRerated',
      idempotencyKey: `rerate:${command.commandId}:${call.callId}`,
      data: {
        callId: call.callId,
        tariffId: pricing.tariff.id,
        previousCost: previousCost.toString(),
        newCost: newCost.toString(),
        adjustment: newCost.minus(previousCost).toString(),
        previousFreeSecondsUsed: call.freeSecondsUsed,
        newFreeSecondsUsed: newFree,
        usageMonthStart: month?.start ?? null,
        reason: command.reason,
      },
    });
  }
  // Free seconds move between calls of a month: append the corrections that give seconds back before
  // those that take them, so the month never shows more used than it has at any point of the stream.
  const freeDelta = (event: Decided): number =>
    event.type === 'CallRerated' ? event.data.newFreeSecondsUsed - event.data.previousFreeSecondsUsed : 0;
  return events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => freeDelta(a.event) - freeDelta(b.event) || a.index - b.index)
    .map(({ event }) => event);
}
