import { Fraction, type Money } from '../money/money.ts';
import { matchDestination } from './destination.ts';
import { assertCall, stepCost } from './rate.ts';
import { billSegment, planAt, slicePlans, stepSegments } from './slices.ts';
import type { Rounding, Tariff } from './tariff.ts';

export interface MaxDurationQuery {
  readonly dialled: string;
  /** When the call would be answered. */
  readonly start: Date;
  /** What the caller may spend on this call (available credit, in the tariff's pre-tax rupees). */
  readonly credit: Money;
  /** The configured ceiling on one authorization (SPEC §8, default 2 h). */
  readonly capSeconds: number;
}

/**
 * The longest whole-second duration `d ≤ capSeconds` of an answered call whose cost (as `rateCall`
 * prices it) is ≤ `credit`, further limited by a first-slice `maxCost` with strategy `disconnect` (cost
 * ≤ its amount). Null when no destination matches (DESTINATION_NOT_RATED). 0 when not even the connect
 * fee is affordable; callers treat 0 as "cannot authorize".
 *
 * Closed form, not a search: the cost is monotone in the duration and changes only where a segment (one
 * step of one slice) bills another increment, so we walk the segments of a `capSeconds` call once,
 * keeping the exact running cost, and in the first segment we cannot afford whole we solve for the
 * number of its increments that fit. The one rounding is folded into the threshold (`affordability`), so
 * no candidate is ever rounded. Cost: O(slices × steps) to build the segments of a `capSeconds` call
 * (a few for a 2-hour cap) plus O(1) exact arithmetic per segment — independent of the duration's size.
 */
export function maxDuration(tariff: Tariff, query: MaxDurationQuery): number | null {
  assertCall(query.start, query.capSeconds);
  const match = matchDestination(tariff, query.dialled);
  if (match === null) return null;
  const { destination } = match;
  const firstPlan = planAt(destination, query.start);
  const { maxCost } = firstPlan;

  // With `free`, a call never costs more than the cap's amount: if that is affordable, so is any duration.
  if (maxCost?.strategy === 'free' && maxCost.amount.compare(query.credit) <= 0) return query.capSeconds;
  const limit =
    maxCost?.strategy === 'disconnect' && maxCost.amount.compare(query.credit) < 0 ? maxCost.amount : query.credit;
  const affordable = affordability(limit, firstPlan.rounding);

  let spent = firstPlan.connectFee.toFraction();
  if (!affordable(spent)) return 0;
  let coveredSeconds = 0;
  for (const segment of stepSegments(slicePlans(destination, query.start, query.capSeconds))) {
    const billing = billSegment(segment, coveredSeconds);
    if (billing.billedSeconds === 0) continue;
    const { step } = segment;
    const segmentCost = stepCost(step.price, billing.billedSeconds, step.unitSeconds);
    if (affordable(spent.plus(segmentCost))) {
      spent = spent.plus(segmentCost);
      coveredSeconds = billing.usageStartSeconds + billing.billedSeconds;
      continue;
    }
    // Not all of this segment: a duration ending `k` increments into it costs spent + k × incrementCost,
    // and one second more opens increment k + 1. incrementCost > 0 here, or the whole segment was free.
    const incrementCost = stepCost(step.price, step.incrementSeconds, step.unitSeconds);
    const increments = affordable.mostIncrements(spent, incrementCost);
    const lastSecond = BigInt(billing.usageStartSeconds) + increments * BigInt(step.incrementSeconds);
    return lastSecond < BigInt(query.capSeconds) ? Number(lastSecond) : query.capSeconds;
  }
  return query.capSeconds;
}

interface Affordability {
  /** Whether an exact (unrounded) total, once rounded, is ≤ the limit. */
  (exactTotal: Fraction): boolean;
  /** The most `k ≥ 0` with `spent + k × each` affordable, given that `spent` is and `each` > 0. */
  mostIncrements(spent: Fraction, each: Fraction): bigint;
}

/**
 * "round(x) ≤ limit" as a plain comparison of the exact x with a threshold, for x ≥ 0, on the grid
 * g = 10^-decimals and F = ⌊limit / g⌋·g (the largest grid value ≤ limit):
 * - up:      ⌈x/g⌉·g ≤ limit        ⇔ x ≤ F
 * - down:    ⌊x/g⌋·g ≤ limit        ⇔ x < F + g
 * - half-up: ⌊x/g + ½⌋·g ≤ limit    ⇔ x < F + g/2
 */
export function affordability(limit: Money, rounding: Rounding): Affordability {
  const gridPerRupee = 10n ** BigInt(rounding.decimals);
  const gridSteps = limit.toFraction().times(gridPerRupee).floor();
  const strict = rounding.method !== 'up';
  const threshold =
    rounding.method === 'up'
      ? Fraction.of(gridSteps, gridPerRupee)
      : rounding.method === 'down'
        ? Fraction.of(gridSteps + 1n, gridPerRupee)
        : Fraction.of(2n * gridSteps + 1n, 2n * gridPerRupee);
  const test = (exactTotal: Fraction): boolean => {
    const comparison = exactTotal.compare(threshold);
    return strict ? comparison < 0 : comparison <= 0;
  };
  return Object.assign(test, {
    mostIncrements(spent: Fraction, each: Fraction): bigint {
      const room = threshold.minus(spent).dividedBy(each);
      const increments = strict ? room.ceil() - 1n : room.floor();
      if (increments < 0n) throw new Error('assertion failed: mostIncrements called with an unaffordable spend');
      return increments;
    },
  });
}
