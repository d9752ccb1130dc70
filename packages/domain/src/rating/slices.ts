import { IST_OFFSET_MINUTES, localClock } from '../time/calendar.ts';
import type { Destination, RatePlan, RateStep } from './tariff.ts';

/** The longest call the engine rates: a month. A CDR longer than that is corrupt, not a call. */
export const DURATION_SECONDS_MAX = 30 * 86_400;
/** Rate plans per destination (mirrors `maxItems` in schemas/tariff.schema.json). */
export const RATE_PLANS_MAX = 64;
/** Steps per rate plan (mirrors `maxItems` in schemas/tariff.schema.json). */
export const RATE_STEPS_MAX = 32;

const MS_PER_SECOND = 1_000;
const SECONDS_PER_DAY = 86_400;
const MS_PER_DAY = SECONDS_PER_DAY * MS_PER_SECOND;
const IST_OFFSET_MS = IST_OFFSET_MINUTES * 60 * MS_PER_SECOND;
/**
 * The slicing loop visits each plan start (at most one per plan) and each midnight once per local day the
 * call touches; a call of `DURATION_SECONDS_MAX` touches at most that many days plus two partial ones.
 */
const SLICE_ITERATIONS_MAX = (DURATION_SECONDS_MAX / SECONDS_PER_DAY + 2) * (RATE_PLANS_MAX + 1);

/**
 * The plan in force at an instant (SPEC §7): among the plans whose days include the IST weekday and whose
 * `from` is at or before the IST time of day, the highest weight, then the latest `from`. `parseTariff`
 * guarantees that one exists (every weekday has a 00:00 plan) and that it is unique (no ties).
 */
export function planAt(destination: Destination, instant: Date): RatePlan {
  const clock = localClock(instant);
  let winner: RatePlan | null = null;
  for (const plan of destination.ratePlans) {
    if (!plan.days.includes(clock.weekday) || plan.fromSecondOfDay > clock.secondOfDay) continue;
    if (
      winner === null ||
      plan.weight > winner.weight ||
      (plan.weight === winner.weight && plan.fromSecondOfDay > winner.fromSecondOfDay)
    ) {
      winner = plan;
    }
  }
  if (winner === null)
    throw new Error(`assertion failed: no rate plan for ${destination.name} at ${instant.toISOString()}`);
  return winner;
}

/** A run of call seconds `[startSeconds, endSeconds)` (offsets from the call's start) under one plan. */
export interface PlanSlice {
  readonly startSeconds: number;
  readonly endSeconds: number;
  readonly plan: RatePlan;
}

/**
 * Splits a call into slices where the winning plan changes. Time is discrete: second `k` of the call
 * (`[k, k+1)` from the start) belongs to the plan in force at the instant `start + k s`, so a slice
 * boundary falls on the first whole second of the call at or after the plan change (this matters only
 * when `start` has milliseconds). Midnight is a candidate boundary like any plan start, but a slice is
 * cut only where the plan actually changes, so a plan that covers both days does not split a call (a
 * split would round the call's increments twice).
 */
export function slicePlans(destination: Destination, start: Date, durationSeconds: number): PlanSlice[] {
  const slices: PlanSlice[] = [];
  if (durationSeconds === 0) return slices;
  const startMs = start.getTime();
  let plan = planAt(destination, start);
  let sliceStartSeconds = 0;
  let offsetSeconds = 0;
  for (let iteration = 0; iteration < SLICE_ITERATIONS_MAX; iteration += 1) {
    const instantMs = startMs + offsetSeconds * MS_PER_SECOND;
    const msOfDay = (((instantMs + IST_OFFSET_MS) % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    const secondOfDay = Math.floor(msOfDay / MS_PER_SECOND);
    const nextStartSecondOfDay =
      destination.planStartsSecondOfDay.find((second) => second > secondOfDay) ?? SECONDS_PER_DAY;
    const boundaryMs = instantMs - msOfDay + nextStartSecondOfDay * MS_PER_SECOND;
    // Always > offsetSeconds: the boundary is after the instant, and the division rounds up.
    const nextOffsetSeconds = Math.ceil((boundaryMs - startMs) / MS_PER_SECOND);
    if (nextOffsetSeconds >= durationSeconds) {
      slices.push({ startSeconds: sliceStartSeconds, endSeconds: durationSeconds, plan });
      return slices;
    }
    const nextPlan = planAt(destination, new Date(startMs + nextOffsetSeconds * MS_PER_SECOND));
    if (nextPlan !== plan) {
      slices.push({ startSeconds: sliceStartSeconds, endSeconds: nextOffsetSeconds, plan });
      sliceStartSeconds = nextOffsetSeconds;
      plan = nextPlan;
    }
    offsetSeconds = nextOffsetSeconds;
  }
  throw new Error(`assertion failed: slicing a ${durationSeconds} s call took over ${SLICE_ITERATIONS_MAX} steps`);
}

/** The part of one step of one slice's plan: nominal call seconds `[startSeconds, endSeconds)`. */
export interface StepSegment {
  readonly sliceIndex: number;
  readonly stepIndex: number;
  readonly step: RateStep;
  readonly startSeconds: number;
  readonly endSeconds: number;
}

/**
 * Cuts each slice along its plan's step windows (`from` of a step up to the next step's `from`, counted
 * from the CALL's start, not the slice's). The segments tile `[0, duration)` in order.
 */
export function stepSegments(slices: readonly PlanSlice[]): StepSegment[] {
  const segments: StepSegment[] = [];
  slices.forEach((slice, sliceIndex) => {
    const steps = slice.plan.steps;
    steps.forEach((step, stepIndex) => {
      const windowEndSeconds = steps[stepIndex + 1]?.fromSeconds ?? Number.POSITIVE_INFINITY;
      const startSeconds = Math.max(step.fromSeconds, slice.startSeconds);
      const endSeconds = Math.min(windowEndSeconds, slice.endSeconds);
      if (startSeconds < endSeconds) segments.push({ sliceIndex, stepIndex, step, startSeconds, endSeconds });
    });
  });
  return segments;
}

/**
 * Billing of one segment when earlier segments have billed up to `coveredSeconds` (SPEC §7).
 *
 * Usage is the call time from where this segment's usage starts (`coveredSeconds`, or the segment's own
 * start) to its end, rounded UP to whole increments counted from that point. An increment that runs past
 * the segment's end is billed here, at this step's price, and pushes everything after it later: the next
 * segment starts at the new `coveredSeconds` (and is skipped when that is already past its end).
 *
 * That one rule also settles a step whose usage spans a slice boundary: the step's part in each slice is
 * its own segment, rounded to that slice's plan's increment; an increment that crosses into the next slice
 * is billed at the earlier slice's plan, and the later slice's usage starts where it ends. Every second of
 * the call lies in some segment and every segment bills at least the usage it has not yet covered, so the
 * billed seconds never fall below the duration, and growing a call never lowers an earlier segment's bill.
 */
export function billSegment(
  segment: StepSegment,
  coveredSeconds: number,
): { readonly usageStartSeconds: number; readonly usageSeconds: number; readonly billedSeconds: number } {
  const usageStartSeconds = Math.max(segment.startSeconds, coveredSeconds);
  if (usageStartSeconds >= segment.endSeconds) return { usageStartSeconds, usageSeconds: 0, billedSeconds: 0 };
  const usageSeconds = segment.endSeconds - usageStartSeconds;
  const increment = segment.step.incrementSeconds;
  const billedSeconds = Math.ceil(usageSeconds / increment) * increment;
  return { usageStartSeconds, usageSeconds, billedSeconds };
}
