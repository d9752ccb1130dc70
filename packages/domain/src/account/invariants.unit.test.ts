import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { availableCredit } from './decision.ts';
import { isRejection } from './rejections.ts';
import { assertReservationTotals, evolve, initialState } from './state.ts';
import { cmd, openAccount, Scenario, testRules } from './test-support.ts';

const rules = testRules();
const DESTINATIONS = ['+919845012345', '+918022334455', '18001234567', '+447911123456', '+15551234567'];

type Action =
  | { kind: 'topUp'; paise: number }
  | { kind: 'start'; destination: number; afterSeconds: number }
  | { kind: 'end'; call: number; share: number; answered: boolean }
  | { kind: 'bLeg'; call: number }
  | { kind: 'expire'; call: number }
  | { kind: 'extend'; call: number }
  | { kind: 'adjust'; paise: number }
  | { kind: 'days'; days: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('topUp' as const), paise: fc.integer({ min: 1, max: 500_000 }) }),
  fc.record({
    kind: fc.constant('start' as const),
    destination: fc.integer({ min: 0, max: DESTINATIONS.length - 1 }),
    afterSeconds: fc.integer({ min: 0, max: 600 }),
  }),
  fc.record({
    kind: fc.constant('end' as const),
    call: fc.nat(),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
    answered: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('bLeg' as const), call: fc.nat() }),
  fc.record({ kind: fc.constant('expire' as const), call: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), call: fc.nat() }),
  fc.record({ kind: fc.constant('adjust' as const), paise: fc.integer({ min: -50_000, max: 50_000 }) }),
  fc.record({ kind: fc.constant('days' as const), days: fc.integer({ min: 1, max: 20 }) }),
);

describe('account invariants under random command sequences', () => {
  it('never overspends, resolves each reservation at most once, and replays to the same state', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('starter', 'professional', 'call-center', 'per-second', 'tiny'),
        fc.constantFrom('prepaid', 'postpaid'),
        fc.array(action, { minLength: 1, maxLength: 60 }),
        (planId, billingMode, actions) => {
          const s = new Scenario(rules);
          let clock = Date.parse('2026-11-02T04:30:00.000Z');
          const at = () => new Date(clock).toISOString();
          s.run(
            openAccount(billingMode === 'postpaid' ? { billingMode, creditLimit: '20000' } : { billingMode }),
            at(),
          );
          s.run(cmd('TopUpWallet', { amount: '20000.00' }), at());
          s.run(cmd('Subscribe', { planId, cycle: 'monthly' }), at());
          let nextCall = 0;
          const resolved = new Set<string>();
          for (const step of actions) {
            const open = [...s.state.reservations.values()];
            const pick = (index: number) => open[index % Math.max(open.length, 1)];
            let decision: ReturnType<Scenario['attempt']> | null = null;
            switch (step.kind) {
              case 'topUp':
                decision = s.attempt(
                  cmd('TopUpWallet', { amount: Money.ofPaise(BigInt(step.paise)).toFixedDecimals(2) }),
                  at(),
                );
                break;
              case 'start': {
                clock += step.afterSeconds * 1000;
                nextCall += 1;
                const destination = DESTINATIONS[step.destination] as string;
                decision = s.attempt(cmd('StartCall', { callId: `call-${nextCall}`, destination, at: at() }), at());
                break;
              }
              case 'end': {
                const reservation = pick(step.call);
                if (reservation === undefined) break;
                const billableMilliseconds = Math.floor(step.share * reservation.maxSeconds) * 1000;
                decision = s.attempt(
                  cmd('RateCdr', {
                    cdr: {
                      callId: reservation.callId,
                      leg: 'A',
                      destination: reservation.destination,
                      startedAt: reservation.authorizedAt,
                      answeredAt: step.answered ? reservation.authorizedAt : null,
                      billableMilliseconds: step.answered ? billableMilliseconds : 0,
                    },
                  }),
                  at(),
                );
                if (!isRejection(decision)) {
                  expect(resolved.has(reservation.callId)).toBe(false);
                  resolved.add(reservation.callId);
                }
                break;
              }
              case 'bLeg': {
                const reservation = pick(step.call);
                if (reservation === undefined) break;
                decision = s.attempt(
                  cmd('RateCdr', {
                    cdr: {
                      callId: reservation.callId,
                      leg: 'B',
                      destination: reservation.destination,
                      startedAt: at(),
                      answeredAt: at(),
                      billableMilliseconds: 1_000,
                    },
                  }),
                  at(),
                );
                expect(decision).toEqual([]);
                break;
              }
              case 'expire': {
                const reservation = pick(step.call);
                if (reservation === undefined) break;
                clock = Math.max(clock, Date.parse(reservation.expiresAt));
                decision = s.attempt(cmd('ExpireReservation', { callId: reservation.callId }), at());
                if (!isRejection(decision)) resolved.add(reservation.callId);
                break;
              }
              case 'extend': {
                const reservation = pick(step.call);
                if (reservation === undefined) break;
                decision = s.attempt(cmd('ExtendReservation', { callId: reservation.callId }), at());
                break;
              }
              case 'adjust':
                if (step.paise === 0) break;
                decision = s.attempt(
                  cmd('AdjustWallet', { amount: Money.ofPaise(BigInt(step.paise)).toFixedDecimals(2), reason: 'test' }),
                  at(),
                );
                break;
              case 'days':
                clock += step.days * 86_400_000;
                decision = s.attempt(cmd('ChargeSubscription', { on: at().slice(0, 10) }), at());
                break;
            }
            if (decision === null) continue;
            // No decision the decider accepts leaves the account able to spend less than nothing.
            expect(availableCredit(s.state, rules).isNegative(), `${step.kind} overspent`).toBe(false);
            // evolve checks the reservation totals one change at a time; summed in full they still add up.
            assertReservationTotals(s.state, step.kind);
            if (billingMode === 'prepaid') expect(s.state.balance.isNegative()).toBe(false);
            const month = s.state.usageMonth;
            if (month !== null) expect(month.usedSeconds).toBeLessThanOrEqual(month.freeSeconds);
          }
          const replayed = s.history.reduce(evolve, initialState());
          expect(replayed.balance.equals(s.state.balance)).toBe(true);
          expect(replayed.reserved.equals(s.state.reserved)).toBe(true);
          expect(replayed.reservations.size).toBe(s.state.reservations.size);
          expect(replayed.usageMonth).toEqual(s.state.usageMonth);
        },
      ),
      { numRuns: 200 },
    );
  });
});
