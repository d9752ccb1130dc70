/**
 * Rating (SPEC §7): prices calls by an operator-authored tariff. `parseTariff` turns a document into a
 * `Tariff` (or a `TariffError` naming the field); `rateCall` prices a finished call; `maxDuration` tells
 * authorization how long a call may last on a credit; `rateWithAllowance` / `maxDurationWithAllowance`
 * put a plan's free seconds first (SPEC §5).
 *
 * Invariants: amounts stay exact `Fraction`s until the ONE rounding per call (the first slice's plan's
 * `rounding`); billed seconds are never fewer than the call's duration; the cost never decreases as a call
 * grows; `maxDuration` is the longest duration whose cost fits the credit.
 */
export * from './allowance.ts';
export * from './destination.ts';
export * from './max-duration.ts';
export {
  assertCall,
  type CallToRate,
  formatExact,
  type PlanReference,
  type RatedCall,
  type RatedSlice,
  type RatedStep,
  rateCall,
  ratedCallToJson,
  stepCost,
} from './rate.ts';
export { DURATION_SECONDS_MAX, type PlanSlice, planAt, RATE_PLANS_MAX, RATE_STEPS_MAX, slicePlans } from './slices.ts';
export * from './tariff.ts';
