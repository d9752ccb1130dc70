/**
 * @khata/domain — the pure heart of Khata: money, the billing calendar, the catalog, rating, GST, and
 * the account decider (`decide(command, state, now)` / `evolve(state, event)`).
 *
 * Invariants: no I/O, no clock, no randomness, no Node built-ins (enforced by lint); amounts are exact
 * (`Money`, `Fraction`) and rounded only where a rule names the rounding; a rejection is a value with a
 * stable code, never an exception; a broken invariant is a bug and fails an assertion.
 */

export * from './account/index.ts';
export * from './catalog/index.ts';
export * from './journal/index.ts';
export * from './money/money.ts';
export * from './rating/index.ts';
export * from './tax/index.ts';
export * from './time/calendar.ts';
