import { Money } from '@khata/domain';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dataOf, eachDatabase, type Harness, type History, playHistory, startHarness } from '../shared/testing.ts';
import { usageProjection } from './projection.ts';
import { type MonthUsageWithDestinations, usageMonthsOf, usageOf } from './queries.ts';

eachDatabase('usage read model', (connect) => {
  let h: Harness;
  let history: History;
  let schema: string;
  /** acme's November before and after re-rating. */
  const acmeNovember = new Map<string, MonthUsageWithDestinations | null>();
  beforeAll(async () => {
    h = await startHarness(await connect(), [usageProjection]);
    history = await playHistory(h, async (day, { acme }) => {
      acmeNovember.set(day, await usageOf(h.db, await h.schema('usage'), acme, '2026-11'));
    });
    schema = await h.schema('usage');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('sums a month’s calls, unanswered ones included with no seconds', () => {
    // 2 November: answered 125 s, unanswered, 30 s rated after its reservation expired, 65 s never authorized.
    expect(acmeNovember.get('2026-11-02')).toMatchObject({
      calls: 4,
      answeredCalls: 3,
      durationSeconds: 125 + 30 + 65,
      // Free minutes are counted in started minutes: 3 + 1 + 2.
      billedSeconds: 180 + 60 + 120,
      freeSecondsUsed: 360,
      overageSeconds: 0,
      cost: '0.00',
      reratedCalls: 0,
      destinations: [{ destinationName: 'Overage', calls: 4, answeredCalls: 3, durationSeconds: 220, cost: '0.00' }],
    });
  });

  it('counts overage before re-rating and moves it to free seconds in the original month after', () => {
    // 3 November: a 27,000 s call, a 90 s call rated while the last free seconds were reserved (2
    // started minutes of overage at ₹1.60), and the 30 s call that had reserved them.
    expect(acmeNovember.get('2026-11-03')).toMatchObject({
      calls: 7,
      durationSeconds: 220 + 27_000 + 90 + 30,
      billedSeconds: 360 + 27_000 + 120 + 60,
      freeSecondsUsed: 360 + 27_000 + 60,
      overageSeconds: 120,
      cost: '3.20',
    });
    expect(acmeNovember.get('2026-11-05')).toMatchObject({
      calls: 7,
      billedSeconds: 27_540,
      freeSecondsUsed: 27_540,
      overageSeconds: 0,
      cost: '0.00',
      reratedCalls: 1,
      destinations: [{ destinationName: 'Overage', calls: 7, cost: '0.00' }],
    });
  });

  it('corrects the cost of a month by the re-rated difference', async () => {
    // 6,090 s on Starter: 6,000 free seconds and 2 started minutes, ₹3.98 at ₹1.99, ₹2.00 at ₹1.00.
    expect(await usageOf(h.db, schema, history.bharat, '2026-11')).toMatchObject({
      calls: 1,
      durationSeconds: 6_090,
      billedSeconds: 6_120,
      freeSecondsUsed: 6_000,
      overageSeconds: 120,
      cost: '2.00',
      reratedCalls: 1,
      destinations: [{ destinationName: 'Overage', cost: '2.00', billedSeconds: 6_120 }],
    });
  });

  it('splits an account’s usage by destination and by month', async () => {
    const [rated] = dataOf<{ cost: string }>(history, history.chennai, 'CdrRated');
    expect(await usageOf(h.db, schema, history.chennai, '2026-11')).toMatchObject({
      calls: 1,
      durationSeconds: 601,
      freeSecondsUsed: 0,
      overageSeconds: 601,
      cost: Money.parse(rated?.cost ?? '').toString(),
      destinations: [{ destinationName: 'UK mobile', calls: 1, durationSeconds: 601 }],
    });
    const months = await usageMonthsOf(h.db, schema, history.acme);
    expect(months.map((m) => [m.month, m.calls, m.freeSecondsUsed])).toEqual([
      ['2026-12', 1, 60],
      ['2026-11', 7, 27_540],
    ]);
    expect(await usageMonthsOf(h.db, schema, history.acme, { from: '2026-12', to: '2026-12' })).toHaveLength(1);
    expect(await usageOf(h.db, schema, history.acme, '2026-10')).toBeNull();
    await expect(usageOf(h.db, schema, history.acme, '2026-13')).rejects.toMatchObject({ code: 'INVALID_FILTER' });
  });

  it('reads only rated and re-rated calls, recording the version of the last one per account', async () => {
    await h.expectReadsOnly(usageProjection, ['CdrRated', 'CallRerated']);
  });

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(usageProjection, ['usage_months', 'usage_destinations', 'usage_calls']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('usage', ['usage_months', 'usage_destinations', 'usage_calls', 'stream_versions']);
  });
});
