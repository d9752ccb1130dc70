import { afterAll, beforeAll, expect, it } from 'vitest';
import { InvalidReadRequest } from '../shared/pages.ts';
import { eachDatabase, type Harness, type History, playHistory, startHarness } from '../shared/testing.ts';
import { accountsProjection } from './projection.ts';
import { accountById, listAccounts, numbersOfAccount, tollFreeRoute } from './queries.ts';

eachDatabase('accounts read model', (connect) => {
  let h: Harness;
  let history: History;
  let schema: string;
  beforeAll(async () => {
    h = await startHarness(await connect(), [accountsProjection]);
    history = await playHistory(h);
    schema = await h.schema('accounts');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('shows each account’s profile, billing terms, status and current plan', async () => {
    const acme = await accountById(h.db, schema, history.acme);
    expect(acme).toMatchObject({
      accountId: history.acme,
      legalName: 'Acme Contact Centre Pvt Ltd',
      contact: { name: 'Asha', email: 'asha@example.in' },
      billingAddress: { city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
      stateCode: '29',
      gstin: null,
      billingMode: 'prepaid',
      creditLimit: '0.00',
      status: 'active',
      // The subscription ended on 2 January: no plan.
      plan: null,
      openedAt: '2026-11-02T04:30:00.000Z',
      currency: 'INR',
    });
    expect(acme?.streamVersion).toBe(String(history.events.get(history.acme)?.length));

    const bharat = await accountById(h.db, schema, history.bharat);
    expect(bharat).toMatchObject({
      gstin: '27AAPFU0939F1ZV',
      billingMode: 'postpaid',
      creditLimit: '23600.00',
      // Suspended, then reinstated: active, with the reason of the last change.
      status: 'active',
      statusReason: 'invoice paid',
      // Cancelled now, then subscribed again to another plan.
      plan: { planId: 'professional', cycle: 'monthly' },
    });
    // Cancelled at the period end: the plan runs until then.
    expect((await accountById(h.db, schema, history.chennai))?.plan).toEqual({ planId: 'starter', cycle: 'monthly' });
    expect(await accountById(h.db, schema, history.dormant)).toMatchObject({
      status: 'closed',
      statusReason: 'opened by mistake',
    });
    expect(await accountById(h.db, schema, crypto.randomUUID())).toBeNull();
  });

  it('routes a toll-free number to the account that holds it now, with that account’s extensions', async () => {
    // acme released the number on 10 November and bharat was given it the same day.
    expect(await tollFreeRoute(h.db, schema, history.tollFree)).toEqual({
      number: history.tollFree,
      accountId: history.bharat,
      accountStatus: 'active',
      extensions: [],
    });
    expect(await tollFreeRoute(h.db, schema, '18009999999')).toBeNull();
    expect(await numbersOfAccount(h.db, schema, history.acme)).toEqual([
      { kind: 'extension', number: '101', accountId: history.acme, assignedAt: '2026-11-02T04:30:00.000Z' },
    ]);
    expect(await numbersOfAccount(h.db, schema, history.bharat)).toEqual([
      {
        kind: 'toll-free',
        number: history.tollFree,
        accountId: history.bharat,
        assignedAt: '2026-11-10T05:00:00.000Z',
      },
    ]);
  });

  it('lists accounts newest first in pages whose cursors neither skip nor repeat an account', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const result = await listAccounts(h.db, schema, { limit: 1, cursor });
      expect(result.items.length).toBeLessThanOrEqual(1);
      seen.push(...result.items.map((account) => account.accountId));
      cursor = result.nextCursor;
      if (cursor === null) break;
    }
    const all = await listAccounts(h.db, schema, { limit: 200 });
    expect(all.nextCursor).toBeNull();
    expect(seen).toEqual(all.items.map((account) => account.accountId));
    expect(new Set(seen)).toEqual(new Set([history.acme, history.bharat, history.chennai, history.dormant]));
    // All four opened at the same instant: the account id breaks the tie, descending.
    expect(seen).toEqual([...seen].sort().reverse());
    const closed = await listAccounts(h.db, schema, { status: 'closed' });
    expect(closed.items.map((account) => account.accountId)).toEqual([history.dormant]);
  });

  it('refuses a forged cursor, a cursor of another list and a nonsensical limit', async () => {
    const encode = (key: unknown[]) => Buffer.from(JSON.stringify(key)).toString('base64url');
    await expect(listAccounts(h.db, schema, { cursor: 'not a cursor' })).rejects.toBeInstanceOf(InvalidReadRequest);
    const forged = encode(['accounts', "2026-11-02'; DROP TABLE accounts; --", history.acme]);
    await expect(listAccounts(h.db, schema, { cursor: forged })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    const otherList = encode(['calls', '2026-11-02T04:30:00.000Z', history.acme]);
    await expect(listAccounts(h.db, schema, { cursor: otherList })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
    await expect(listAccounts(h.db, schema, { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_LIMIT' });
    expect((await listAccounts(h.db, schema, { limit: 5_000 })).items).toHaveLength(4);
  });

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(accountsProjection, ['accounts', 'toll_free_numbers', 'extensions']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('accounts', ['accounts', 'toll_free_numbers', 'extensions']);
    const rebuilt = await h.schema('accounts');
    expect((await tollFreeRoute(h.db, rebuilt, history.tollFree))?.accountId).toBe(history.bharat);
  });
});
