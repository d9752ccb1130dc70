import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.ts';
import { stateFromJson, stateToJson } from './snapshot.ts';
import { evolve, InvariantViolation, initialState } from './state.ts';
import { cmd, openAccount, Scenario } from './test-support.ts';
import { UnknownEventVersion, upcastAccountEvent } from './upcast.ts';

describe('reading stored events', () => {
  it('upcasts a v1 CdrRated (whole-second billsec) to v2 (billable milliseconds)', () => {
    const v1 = {
      callId: 'c1',
      destination: '+919845012345',
      destinationName: 'Overage',
      tariffId: 'starter-overage',
      answeredAt: '2026-11-02T04:30:00.000Z',
      durationSeconds: 61,
      billedSeconds: 120,
      freeSecondsUsed: 120,
      overageSeconds: 0,
      cost: '0.00',
      hadReservation: false,
      reservedAmount: '0.00',
      reservedFreeSeconds: 0,
      excess: '0.00',
      usageMonthStart: null,
      ratedAt: '2026-11-02T04:31:01.000Z',
      billSeconds: 61,
    };
    const event = upcastAccountEvent({ type: 'CdrRated', schemaVersion: 1, data: v1 });
    expect(event.type).toBe('CdrRated');
    expect(event.data).toMatchObject({ billableMilliseconds: 61_000, durationSeconds: 61 });
    expect(event.data).not.toHaveProperty('billSeconds');
  });

  it('passes current versions through and refuses unknown types and future versions', () => {
    const data = { reason: 'x' };
    expect(upcastAccountEvent({ type: 'AccountSuspended', schemaVersion: 1, data })).toEqual({
      type: 'AccountSuspended',
      data,
    });
    expect(() => upcastAccountEvent({ type: 'Mystery', schemaVersion: 1, data })).toThrow(UnknownEventVersion);
    expect(() => upcastAccountEvent({ type: 'AccountSuspended', schemaVersion: 2, data })).toThrow(
      /newer than this code/,
    );
  });
});

const at = '2026-11-02T04:30:00.000Z';

/** A prepaid Professional account with a call in progress for each of `callIds`. */
function callsInProgress(...callIds: string[]): Scenario {
  const s = new Scenario();
  s.run(openAccount(), at);
  s.run(cmd('TopUpWallet', { amount: '2360.00' }), at);
  s.run(cmd('Subscribe', { planId: 'professional', cycle: 'monthly' }), at);
  for (const callId of callIds) s.run(cmd('StartCall', { callId, destination: '+919845012345', at }), at);
  return s;
}

describe('state snapshots', () => {
  it('round-trip through JSON to a state that evolves exactly like the original', () => {
    const s = callsInProgress('c1');
    const restored = stateFromJson(JSON.parse(JSON.stringify(stateToJson(s.state))));
    expect(stateToJson(restored)).toEqual(stateToJson(s.state));
    const next = s.run(
      cmd('RateCdr', {
        cdr: {
          callId: 'c1',
          leg: 'A',
          destination: '+919845012345',
          startedAt: at,
          answeredAt: at,
          billableMilliseconds: 5_000,
        },
      }),
      at,
    );
    const fromSnapshot = next.reduce(evolve, restored);
    expect(stateToJson(fromSnapshot)).toEqual(stateToJson(s.state));
    expect(stateToJson(s.history.reduce(evolve, initialState()))).toEqual(stateToJson(s.state));
  });

  it('refuses a snapshot whose reserved totals are not the sum of its open reservations', () => {
    const s = callsInProgress('c1', 'c2', 'c3');
    const json = JSON.parse(JSON.stringify(stateToJson(s.state)));
    expect(stateFromJson(json).reservations.size).toBe(3);
    // Events after a snapshot are checked against its totals change by change, so the totals are checked here.
    expect(() =>
      stateFromJson({ ...json, reserved: Money.parse(json.reserved).plus(Money.parse('1.00')).toString() }),
    ).toThrow(InvariantViolation);
    expect(() => stateFromJson({ ...json, reservations: json.reservations.slice(1) })).toThrow(InvariantViolation);
    expect(() => stateFromJson({ ...json, reservedFreeSeconds: json.reservedFreeSeconds + 60 })).toThrow(
      InvariantViolation,
    );
  });

  it('leaves the state it was given as it was: a new reservation makes a new map', () => {
    const s = callsInProgress('c1');
    const before = s.state;
    const [authorized] = s.run(cmd('StartCall', { callId: 'c2', destination: '+919845012345', at }), at);
    expect(before.reservations.size).toBe(1);
    expect(s.state.reservations.size).toBe(2);
    expect(authorized === undefined ? null : evolve(before, authorized).reservations.has('c2')).toBe(true);
    expect(before.reservations.has('c2')).toBe(false);
  });
});
