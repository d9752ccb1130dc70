import { Money } from '../money/money.ts';
import { matchDestination } from './destination.ts';
import { maxDuration } from './max-duration.ts';
import { assertCall, type CallToRate, type RatedCall, rateCall } from './rate.ts';
import type { Tariff } from './tariff.ts';

const MS_PER_SECOND = 1_000;
/** The longest pulse a plan may set (SPEC §5 names 60 s and 1 s; an hour is already absurd). */
export const PULSE_SECONDS_MAX = 3_600;

export interface Allowance {
  /** Free seconds the subscription has left this month. */
  readonly freeSecondsLeft: number;
  /** The plan's billing pulse: 60 bills per started minute, 1 per second. */
  readonly pulseSeconds: number;
}

export interface RatedWithAllowance {
  /** Free seconds this call consumes (to subtract from the allowance): whole pulses. */
  readonly freeSecondsUsed: number;
  /** Seconds the call counts as: the free part plus what the tariff billed for the rest. */
  readonly billedSeconds: number;
  /** Call seconds beyond the free part, rated by the tariff (before its increments). */
  readonly overageSeconds: number;
  /** The overage's cost (zero when the free seconds covered the call). */
  readonly cost: Money;
  /** The overage as the tariff rated it, or null when there was none. */
  readonly overage: RatedCall | null;
}

/**
 * Rates a call under a plan with free minutes (SPEC §5, §7).
 *
 * Free seconds are consumed first and in whole pulses: a call uses ⌈duration / pulse⌉ pulses of them, as
 * many as the allowance has whole pulses for. The rest of the call (duration − free seconds used) is
 * overage, rated by the tariff as an answered call that starts where the free seconds end, so a
 * time-of-day plan prices it at the right time and the tariff's own increments round it. With a plan
 * overage tariff (`planOverageTariff`, increment = pulse) the whole call then counts as its duration
 * rounded up to the pulse, e.g. 150 s with 60 free seconds at a 60 s pulse: 60 free + 120 billed.
 *
 * Why whole pulses: were a part-pulse of free seconds used, the tariff would round the overage up to a
 * whole pulse again and the call would count for more than its pulses. A part-pulse left in the
 * allowance (only after a pulse change) stays unused rather than making a call dearer.
 * The overage pays the tariff's connect fee only when there is overage; plan overage tariffs have none.
 * Null when the tariff does not rate the destination (DESTINATION_NOT_RATED), free seconds or not.
 */
export function rateWithAllowance(tariff: Tariff, call: CallToRate, allowance: Allowance): RatedWithAllowance | null {
  assertCall(call.start, call.durationSeconds);
  assertAllowance(allowance);
  if (matchDestination(tariff, call.dialled) === null) return null;
  if (!call.answered) {
    return { freeSecondsUsed: 0, billedSeconds: 0, overageSeconds: 0, cost: Money.zero, overage: null };
  }
  const pulsedSeconds = roundUpToPulse(call.durationSeconds, allowance.pulseSeconds);
  const freeSecondsUsed = Math.min(wholePulses(allowance.freeSecondsLeft, allowance.pulseSeconds), pulsedSeconds);
  const overageSeconds = Math.max(0, call.durationSeconds - freeSecondsUsed);
  if (overageSeconds === 0) {
    return { freeSecondsUsed, billedSeconds: freeSecondsUsed, overageSeconds, cost: Money.zero, overage: null };
  }
  const overage = rateCall(tariff, {
    dialled: call.dialled,
    start: new Date(call.start.getTime() + freeSecondsUsed * MS_PER_SECOND),
    durationSeconds: overageSeconds,
    answered: true,
  });
  if (overage === null) throw new Error('assertion failed: a matched destination did not rate');
  return {
    freeSecondsUsed,
    billedSeconds: freeSecondsUsed + overage.billedSeconds,
    overageSeconds,
    cost: overage.cost,
    overage,
  };
}

export interface MaxDurationWithAllowanceQuery {
  readonly dialled: string;
  readonly start: Date;
  /** What the caller may spend on overage; a negative credit buys nothing but leaves free seconds usable. */
  readonly credit: Money;
  readonly freeSecondsLeft: number;
  readonly pulseSeconds: number;
  readonly capSeconds: number;
}

/**
 * What free seconds plus credit buy (SPEC §8 `maxSeconds`): the longest `d ≤ capSeconds` whose
 * `rateWithAllowance` cost is ≤ max(credit, 0). Null when the destination is not rated.
 *
 * With F = the allowance's whole pulses in seconds, a call of d ≤ F seconds is free, and a longer one
 * uses all F and rates d − F from `start + F`, a fixed instant. The overage cost is monotone in d − F,
 * so with O = the longest overage the credit covers (`maxDuration`), the answer is min(cap, F + O).
 * One `maxDuration` call: the same O(slices × steps) cost.
 */
export function maxDurationWithAllowance(tariff: Tariff, query: MaxDurationWithAllowanceQuery): number | null {
  assertCall(query.start, query.capSeconds);
  assertAllowance(query);
  if (matchDestination(tariff, query.dialled) === null) return null;
  const { capSeconds } = query;
  const freeSeconds = wholePulses(query.freeSecondsLeft, query.pulseSeconds);
  if (freeSeconds >= capSeconds) return capSeconds;
  const overageSeconds = maxDuration(tariff, {
    dialled: query.dialled,
    start: new Date(query.start.getTime() + freeSeconds * MS_PER_SECOND),
    credit: Money.max(query.credit, Money.zero),
    capSeconds: capSeconds - freeSeconds,
  });
  if (overageSeconds === null) throw new Error('assertion failed: a matched destination did not rate');
  return freeSeconds + overageSeconds;
}

function wholePulses(seconds: number, pulseSeconds: number): number {
  return Math.floor(seconds / pulseSeconds) * pulseSeconds;
}

function roundUpToPulse(durationSeconds: number, pulseSeconds: number): number {
  return Math.ceil(durationSeconds / pulseSeconds) * pulseSeconds;
}

function assertAllowance(allowance: Allowance): void {
  if (!Number.isInteger(allowance.freeSecondsLeft) || allowance.freeSecondsLeft < 0) {
    throw new RangeError(
      `assertion failed: freeSecondsLeft must be a whole number ≥ 0, got ${allowance.freeSecondsLeft}`,
    );
  }
  if (
    !Number.isInteger(allowance.pulseSeconds) ||
    allowance.pulseSeconds < 1 ||
    allowance.pulseSeconds > PULSE_SECONDS_MAX
  ) {
    throw new RangeError(
      `assertion failed: pulseSeconds must be 1 to ${PULSE_SECONDS_MAX}, got ${allowance.pulseSeconds}`,
    );
  }
}
