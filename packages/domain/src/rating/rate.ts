import { Fraction, Money } from '../money/money.ts';
import { matchDestination } from './destination.ts';
import { billSegment, DURATION_SECONDS_MAX, planAt, slicePlans, stepSegments } from './slices.ts';
import type { RatePlan, Rounding, Tariff } from './tariff.ts';

const MS_PER_SECOND = 1_000;

/** A call to price. `durationSeconds` is whole seconds (convert `billusec` by rounding up before rating). */
export interface CallToRate {
  readonly dialled: string;
  /** When the call was answered (for an unanswered call, when it started). */
  readonly start: Date;
  readonly durationSeconds: number;
  readonly answered: boolean;
}

/** Which plan priced a slice: its position in the tariff and what made it win. */
export interface PlanReference {
  readonly destinationIndex: number;
  readonly ratePlanIndex: number;
  readonly days: readonly string[];
  readonly from: string;
  readonly weight: number;
}

export interface RatedStep {
  readonly stepIndex: number;
  /** The step's nominal start in the plan (seconds from the call's start). */
  readonly fromSeconds: number;
  /** Where this step's usage in the slice starts: later than its nominal start when an earlier increment overran. */
  readonly usageStartSeconds: number;
  readonly usageSeconds: number;
  readonly billedSeconds: number;
  readonly price: Money;
  readonly unitSeconds: number;
  readonly incrementSeconds: number;
  /** billedSeconds × price / unit, exact (never rounded). */
  readonly cost: Fraction;
}

export interface RatedSlice {
  /** The instant the slice's first second starts. */
  readonly start: Date;
  readonly startOffsetSeconds: number;
  /** Call seconds under this slice's plan. */
  readonly durationSeconds: number;
  /** Seconds billed at this slice's plan (0 when an earlier slice's increment covered all of it). */
  readonly billedSeconds: number;
  readonly plan: PlanReference;
  /** Σ step costs, exact. */
  readonly cost: Fraction;
  readonly steps: readonly RatedStep[];
}

export interface RatedCall {
  readonly tariffId: string;
  readonly destination: string;
  /** The prefix that matched (`*` for the catch-all). */
  readonly prefix: string;
  readonly currency: 'INR';
  readonly answered: boolean;
  readonly durationSeconds: number;
  readonly billedSeconds: number;
  /** The first slice's plan's connect fee, when the call was answered; else zero. */
  readonly connectFee: Money;
  /** Connect fee + Σ step costs, exact, before the one rounding. */
  readonly exactCost: Fraction;
  /** The first slice's plan's rounding, applied once to `exactCost`. */
  readonly rounding: Rounding;
  /** True when a `maxCost` with strategy `free` lowered the cost to its amount. */
  readonly maxCostApplied: boolean;
  /** What the call costs. */
  readonly cost: Money;
  readonly slices: readonly RatedSlice[];
}

/**
 * Prices one call by the tariff (SPEC §7). Null when no destination matches the dialled number
 * (DESTINATION_NOT_RATED).
 *
 * An unanswered call costs zero and bills no seconds. An answered call pays its first slice's connect
 * fee plus each slice's step costs (see `billSegment` for increments, overruns and slice boundaries),
 * all exact, then rounded ONCE with the first slice's rounding; a first-slice `maxCost` with strategy
 * `free` then caps the cost at its amount (`disconnect` leaves the price alone: it only shortens the
 * authorized duration, see `maxDuration`).
 */
export function rateCall(tariff: Tariff, call: CallToRate): RatedCall | null {
  assertCall(call.start, call.durationSeconds);
  const match = matchDestination(tariff, call.dialled);
  if (match === null) return null;
  const { destination } = match;
  const slices = slicePlans(destination, call.start, call.answered ? call.durationSeconds : 0);
  // Connect fee, rounding and maxCost come from the plan in force when the call starts (its first slice),
  // also for a call with no slices (unanswered or zero seconds).
  const firstPlan = planAt(destination, call.start);

  const segments = stepSegments(slices);
  const stepsBySlice: RatedStep[][] = slices.map(() => []);
  let coveredSeconds = 0;
  for (const segment of segments) {
    const billing = billSegment(segment, coveredSeconds);
    if (billing.billedSeconds === 0) continue;
    coveredSeconds = billing.usageStartSeconds + billing.billedSeconds;
    const { step } = segment;
    stepsBySlice[segment.sliceIndex]?.push({
      stepIndex: segment.stepIndex,
      fromSeconds: step.fromSeconds,
      usageStartSeconds: billing.usageStartSeconds,
      usageSeconds: billing.usageSeconds,
      billedSeconds: billing.billedSeconds,
      price: step.price,
      unitSeconds: step.unitSeconds,
      incrementSeconds: step.incrementSeconds,
      cost: stepCost(step.price, billing.billedSeconds, step.unitSeconds),
    });
  }

  const ratedSlices: RatedSlice[] = slices.map((slice, sliceIndex) => {
    const steps = stepsBySlice[sliceIndex] ?? [];
    return {
      start: new Date(call.start.getTime() + slice.startSeconds * MS_PER_SECOND),
      startOffsetSeconds: slice.startSeconds,
      durationSeconds: slice.endSeconds - slice.startSeconds,
      billedSeconds: steps.reduce((total, step) => total + step.billedSeconds, 0),
      plan: planReference(destination.index, slice.plan),
      cost: steps.reduce((total, step) => total.plus(step.cost), Fraction.zero),
      steps,
    };
  });

  const billedSeconds = ratedSlices.reduce((total, slice) => total + slice.billedSeconds, 0);
  if (call.answered && billedSeconds < call.durationSeconds) {
    throw new Error(`assertion failed: billed ${billedSeconds} s for a ${call.durationSeconds} s call`);
  }
  const connectFee = call.answered ? firstPlan.connectFee : Money.zero;
  const exactCost = ratedSlices.reduce((total, slice) => total.plus(slice.cost), connectFee.toFraction());
  const rounded = exactCost.toMoney(firstPlan.rounding.decimals, firstPlan.rounding.method);
  const cap = firstPlan.maxCost?.strategy === 'free' ? firstPlan.maxCost.amount : null;
  const maxCostApplied = cap !== null && rounded.compare(cap) > 0;
  return {
    tariffId: tariff.id,
    destination: destination.name,
    prefix: match.prefix,
    currency: 'INR',
    answered: call.answered,
    durationSeconds: call.durationSeconds,
    billedSeconds,
    connectFee,
    exactCost,
    rounding: firstPlan.rounding,
    maxCostApplied,
    cost: maxCostApplied && cap !== null ? cap : rounded,
    slices: ratedSlices,
  };
}

/** billed × price / unit, exact. */
export function stepCost(price: Money, billedSeconds: number, unitSeconds: number): Fraction {
  return price.toFraction().times(BigInt(billedSeconds)).dividedBy(BigInt(unitSeconds));
}

function planReference(destinationIndex: number, plan: RatePlan): PlanReference {
  return {
    destinationIndex,
    ratePlanIndex: plan.index,
    days: plan.days,
    from: plan.from,
    weight: plan.weight,
  };
}

/** Call inputs come validated from the CLI, the CDR parser or the decider; a bad one here is a bug. */
export function assertCall(start: Date, durationSeconds: number): void {
  if (!(start instanceof Date) || Number.isNaN(start.getTime())) {
    throw new RangeError('assertion failed: the call start must be a valid Date');
  }
  if (!Number.isInteger(durationSeconds) || durationSeconds < 0 || durationSeconds > DURATION_SECONDS_MAX) {
    throw new RangeError(
      `assertion failed: durationSeconds must be a whole number from 0 to ${DURATION_SECONDS_MAX}, got ${durationSeconds}`,
    );
  }
}

/**
 * A fraction as text: a plain decimal when it has a finite one (denominator of 2s and 5s only), else
 * `numerator/denominator`. For showing exact intermediate costs without rounding them.
 */
export function formatExact(value: Fraction): string {
  let denominator = value.denominator;
  let decimals = 0;
  const DECIMALS_MAX = 64;
  while (denominator % 10n === 0n || denominator % 2n === 0n || denominator % 5n === 0n) {
    if (decimals >= DECIMALS_MAX) break;
    if (denominator % 10n === 0n) denominator /= 10n;
    else if (denominator % 2n === 0n) denominator /= 2n;
    else denominator /= 5n;
    decimals += 1;
  }
  if (denominator !== 1n) return value.toString();
  const scaled = (value.numerator * 10n ** BigInt(decimals)) / value.denominator;
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/** The JSON form of a rated call: amounts as decimal strings, exact intermediates via `formatExact`. */
export function ratedCallToJson(rated: RatedCall): Record<string, unknown> {
  return {
    cost: rated.cost.toString(),
    currency: rated.currency,
    billedSeconds: rated.billedSeconds,
    destination: rated.destination,
    prefix: rated.prefix,
    tariff: rated.tariffId,
    answered: rated.answered,
    durationSeconds: rated.durationSeconds,
    connectFee: rated.connectFee.toString(),
    exactCost: formatExact(rated.exactCost),
    rounding: rated.rounding,
    maxCostApplied: rated.maxCostApplied,
    slices: rated.slices.map((slice) => ({
      start: slice.start.toISOString(),
      startOffsetSeconds: slice.startOffsetSeconds,
      durationSeconds: slice.durationSeconds,
      billedSeconds: slice.billedSeconds,
      plan: slice.plan,
      cost: formatExact(slice.cost),
      steps: slice.steps.map((step) => ({
        step: step.stepIndex,
        fromSeconds: step.fromSeconds,
        usageStartSeconds: step.usageStartSeconds,
        usageSeconds: step.usageSeconds,
        billedSeconds: step.billedSeconds,
        price: step.price.toString(),
        unitSeconds: step.unitSeconds,
        incrementSeconds: step.incrementSeconds,
        cost: formatExact(step.cost),
      })),
    })),
  };
}
