import { afterAll, beforeAll, expect, it } from 'vitest';
import { eachDatabase, type Harness, type History, playHistory, startHarness } from '../shared/testing.ts';
import { subscriptionsProjection } from './projection.ts';
import { listSubscriptions, type SubscriptionView, subscriptionById, subscriptionsOfAccount } from './queries.ts';

eachDatabase('subscriptions read model', (connect) => {
  let h: Harness;
  let history: History;
  let schema: string;
  /** acme's subscription as the read model showed it at the end of each day. */
  const acmeOn = new Map<string, SubscriptionView | undefined>();
  beforeAll(async () => {
    h = await startHarness(await connect(), [subscriptionsProjection]);
    history = await playHistory(h, async (day, { acme }) => {
      const page = await subscriptionsOfAccount(h.db, await h.schema('subscriptions'), acme);
      acmeOn.set(day, page.items[0]);
    });
    schema = await h.schema('subscriptions');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('starts a subscription charged for its first period, with the next charge at the period end', () => {
    expect(acmeOn.get('2026-11-02')).toMatchObject({
      accountId: history.acme,
      planId: 'professional',
      cycle: 'monthly',
      anchor: '2026-11-02',
      currentPeriod: { index: 0, start: '2026-11-02', end: '2026-12-02' },
      status: 'active',
      nextChargeOn: '2026-12-02',
      lastCharge: { at: '2026-11-02T04:30:00.000Z', amount: '999.00' },
      pendingChange: null,
      cancellation: null,
      addOns: [{ addOnId: 'extra-extension', quantity: 1 }],
      startedOn: '2026-11-02',
    });
  });

  it('applies an upgrade at once and keeps a downgrade pending until the period end', () => {
    expect(acmeOn.get('2026-11-17')).toMatchObject({
      planId: 'call-center',
      currentPeriod: { index: 0, start: '2026-11-02', end: '2026-12-02' },
      status: 'active',
      nextChargeOn: '2026-12-02',
      pendingChange: { planId: 'starter', cycle: 'monthly', effectiveOn: '2026-12-02' },
    });
  });

  it('renews on the scheduled plan with its add-ons, then stops charging once cancelled at the period end', () => {
    expect(acmeOn.get('2026-12-05')).toMatchObject({
      planId: 'starter',
      currentPeriod: { index: 1, start: '2026-12-02', end: '2027-01-02' },
      status: 'cancelling',
      nextChargeOn: null,
      // ₹349 for Starter and ₹99 for the extra extension.
      lastCharge: { at: '2026-12-05T05:00:00.000Z', amount: '448.00' },
      pendingChange: null,
      cancellation: { when: 'period_end', effectiveOn: '2027-01-02', reason: null },
      endedOn: null,
    });
  });

  it('ends a subscription cancelled at the period end once the period is over', async () => {
    const [acme] = (await subscriptionsOfAccount(h.db, schema, history.acme)).items;
    expect(acme).toMatchObject({ status: 'ended', endedOn: '2027-01-02', nextChargeOn: null, planId: 'starter' });
    expect(await subscriptionById(h.db, schema, acme?.subscriptionId ?? '')).toEqual(acme);
  });

  it('keeps a subscription cancelled now beside the one the account took afterwards', async () => {
    const { items } = await subscriptionsOfAccount(h.db, schema, history.bharat);
    expect(items.map((s) => [s.planId, s.status])).toEqual([
      ['professional', 'active'],
      ['starter', 'cancelled'],
    ]);
    expect(items[1]).toMatchObject({
      cancellation: { when: 'now', effectiveOn: '2026-11-17', reason: 'moving offices' },
      endedOn: '2026-11-17',
      nextChargeOn: null,
    });
    expect(items[0]).toMatchObject({
      anchor: '2026-12-05',
      currentPeriod: { index: 0, start: '2026-12-05', end: '2027-01-05' },
      nextChargeOn: '2027-01-05',
      lastCharge: { amount: '999.00' },
    });
  });

  it('filters and pages the list of subscriptions without skipping or repeating one', async () => {
    const all = await listSubscriptions(h.db, schema, { limit: 200 });
    expect(all.items).toHaveLength(4);
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const result = await listSubscriptions(h.db, schema, { limit: 3, cursor });
      paged.push(...result.items.map((s) => s.subscriptionId));
      cursor = result.nextCursor;
      if (cursor === null) break;
    }
    expect(paged).toEqual(all.items.map((s) => s.subscriptionId));
    const cancelling = await listSubscriptions(h.db, schema, { status: 'cancelling' });
    expect(cancelling.items.map((s) => s.accountId)).toEqual([history.chennai]);
    const starters = await listSubscriptions(h.db, schema, { planId: 'starter' });
    expect(new Set(starters.items.map((s) => s.accountId))).toEqual(
      new Set([history.acme, history.bharat, history.chennai]),
    );
    const due = await listSubscriptions(h.db, schema, { nextChargeOnOrBefore: '2027-01-31' });
    expect(due.items.map((s) => [s.accountId, s.nextChargeOn])).toEqual([[history.bharat, '2027-01-05']]);
    await expect(listSubscriptions(h.db, schema, { accountId: 'acme' })).rejects.toMatchObject({
      code: 'INVALID_FILTER',
    });
    expect(await subscriptionById(h.db, schema, 'not-a-uuid')).toBeNull();
  });

  it('reads only the subscription events, recording the version of the last one per account', async () => {
    await h.expectReadsOnly(subscriptionsProjection, [
      'SubscriptionStarted',
      'SubscriptionCharged',
      'PlanChanged',
      'PlanChangeScheduled',
      'SubscriptionCancelled',
      'SubscriptionEnded',
      'AddOnAdded',
      'AddOnRemoved',
    ]);
  });

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(subscriptionsProjection, ['subscriptions', 'stream_versions']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('subscriptions', ['subscriptions', 'stream_versions']);
  });
});
