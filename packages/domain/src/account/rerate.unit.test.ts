import { describe, expect, it } from 'vitest';
import { parseTariff, planOverageTariff } from '../rating/tariff.ts';
import type { AccountRules } from './rules.ts';
import { cmd, openAccount, PLANS, Scenario, testRules, types } from './test-support.ts';

const at = (time: string): string => new Date(`2026-11-02T${time}+05:30`).toISOString();
const INDIA = '+919845012345';

/** The tiny plan (1 free minute) with its overage corrected from ₹1.60 to ₹1.20 per minute. */
function corrected(): AccountRules {
  const tiny = PLANS.tiny;
  if (tiny === undefined) throw new Error('missing plan');
  const fixed = {
    ...tiny,
    overageTariff: parseTariff(
      planOverageTariff({ id: 'tiny-overage', pricePerMinute: '1.20', pulseSeconds: 60, decimals: 2 }),
    ),
  };
  return testRules({ plan: (id) => (id === 'tiny' ? fixed : PLANS[id]) });
}

function callsRated(s: Scenario) {
  const rated = (callId: string, time: string, ms: number) =>
    s.run(
      cmd('RateCdr', {
        cdr: {
          callId,
          leg: 'A',
          destination: INDIA,
          startedAt: at(time),
          answeredAt: at(time),
          billableMilliseconds: ms,
        },
      }),
      at(time),
    );
  rated('early', '10:00', 30_000); // 1 started minute: free
  rated('later', '11:00', 150_000); // 3 minutes: overage 3 × 1.60 = 4.80
  rated('last', '12:00', 60_000); // 1 minute: overage 1.60
}

function rerateCommand(s: Scenario) {
  const month = s.state.usageMonth;
  if (month === null) throw new Error('no usage month');
  const calls = s.history.flatMap((event) =>
    event.type === 'CdrRated'
      ? [
          {
            callId: event.data.callId,
            destination: event.data.destination,
            tariffId: event.data.tariffId,
            answeredAt: event.data.answeredAt,
            billableMilliseconds: event.data.billableMilliseconds,
            cost: event.data.cost,
            freeSecondsUsed: event.data.freeSecondsUsed,
            usageMonthStart: event.data.usageMonthStart,
          },
        ]
      : [],
  );
  return cmd('RerateUsage', {
    from: '2026-11-02',
    to: '2026-11-02',
    reason: 'overage price corrected to ₹1.20',
    months: [{ start: month.start, end: month.end, freeSeconds: month.freeSeconds }],
    calls: calls.reverse(), // order of the input must not matter: answer time decides
  });
}

describe('re-rating', () => {
  it('prices calls again in answer-time order and appends only compensating differences', () => {
    const s = new Scenario();
    s.run(openAccount(), at('09:00'));
    s.run(cmd('TopUpWallet', { amount: '236.00' }), at('09:00'));
    s.run(cmd('Subscribe', { planId: 'tiny', cycle: 'monthly' }), at('09:00'));
    callsRated(s);
    expect(s.state.balance.toString()).toBe('93.60'); // 200 − 100 − 4.80 − 1.60
    const before = s.history.length;

    const rerating = new Scenario(corrected());
    rerating.state = s.state;
    const events = rerating.run(rerateCommand(s), at('13:00'));
    expect(types(events)).toEqual(['CallRerated', 'CallRerated']);
    expect(events.map((e) => e.data)).toEqual([
      expect.objectContaining({
        callId: 'later',
        previousCost: '4.80',
        newCost: '3.60',
        adjustment: '-1.20',
        newFreeSecondsUsed: 0,
      }),
      expect.objectContaining({ callId: 'last', previousCost: '1.60', newCost: '1.20', adjustment: '-0.40' }),
    ]);
    expect(rerating.state.balance.toString()).toBe('95.20');
    expect(s.history).toHaveLength(before);
  });

  it('moves free minutes to an earlier call without ever over-using the month', () => {
    const s = new Scenario();
    s.run(openAccount(), at('09:00'));
    s.run(cmd('TopUpWallet', { amount: '236.00' }), at('09:00'));
    s.run(cmd('Subscribe', { planId: 'tiny', cycle: 'monthly' }), at('09:00'));
    const rate = (callId: string, time: string, ms: number) =>
      s.run(
        cmd('RateCdr', {
          cdr: {
            callId,
            leg: 'A',
            destination: INDIA,
            startedAt: at(time),
            answeredAt: at(time),
            billableMilliseconds: ms,
          },
        }),
        at('12:00'),
      );
    rate('later', '11:00', 60_000); // rated first: takes the one free minute
    rate('earlier', '10:00', 60_000); // answered earlier, rated later: none left, ₹1.60
    const events = s.run(rerateCommand(s), at('13:00'));
    // Answer time decides: the earlier call gets the free minute. The release comes first.
    expect(events.map((e) => e.data)).toEqual([
      expect.objectContaining({
        callId: 'later',
        previousFreeSecondsUsed: 60,
        newFreeSecondsUsed: 0,
        adjustment: '1.60',
      }),
      expect.objectContaining({
        callId: 'earlier',
        previousFreeSecondsUsed: 0,
        newFreeSecondsUsed: 60,
        adjustment: '-1.60',
      }),
    ]);
    expect(s.state.usageMonth?.usedSeconds).toBe(60);
  });

  it('changes nothing when the tariffs are what the calls were rated with', () => {
    const s = new Scenario();
    s.run(openAccount(), at('09:00'));
    s.run(cmd('TopUpWallet', { amount: '236.00' }), at('09:00'));
    s.run(cmd('Subscribe', { planId: 'tiny', cycle: 'monthly' }), at('09:00'));
    callsRated(s);
    expect(s.run(rerateCommand(s), at('13:00'))).toEqual([]);
  });
});
