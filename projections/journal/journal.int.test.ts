import { Money } from '@khata/domain';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { balancesProjection } from '../balances/projection.ts';
import { balanceOf } from '../balances/queries.ts';
import { dataOf, eachDatabase, type Harness, type History, playHistory, startHarness } from '../shared/testing.ts';
import { journalProjection } from './projection.ts';
import { customerBalanceOf, journalOfAccount, trialBalance, unbalancedEntries } from './queries.ts';

eachDatabase('journal read model', (connect) => {
  let h: Harness;
  let history: History;
  let schema: string;
  beforeAll(async () => {
    h = await startHarness(await connect(), [balancesProjection, journalProjection]);
    history = await playHistory(h);
    schema = await h.schema('journal');
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('sums each customer’s balance lines to the balance the balances read model shows', async () => {
    const balances = await h.schema('balances');
    for (const accountId of [history.acme, history.bharat, history.chennai, history.dormant]) {
      const balance = await balanceOf(h.db, balances, accountId);
      expect(balance).not.toBeNull();
      expect(await customerBalanceOf(h.db, schema, accountId)).toBe(Money.parse(balance?.wallet ?? '').toString());
    }
    // Postpaid usage owed shows as a debit balance.
    expect(Money.parse(await customerBalanceOf(h.db, schema, history.bharat)).isNegative()).toBe(true);
  });

  it('has no unbalanced entry, and a trial balance whose debits equal its credits', async () => {
    expect(await unbalancedEntries(h.db, schema)).toEqual([]);
    const trial = await trialBalance(h.db, schema);
    expect(trial.balanced).toBe(true);
    expect(trial.totals.debits).toBe(trial.totals.credits);
    const row = (account: string) => trial.accounts.find((r) => r.ledgerAccount === account);
    // Top-ups: acme ₹2,360 + ₹1,180 + ₹5,900 in Karnataka; chennai ₹590 + ₹1,180 from Tamil Nadu.
    expect(row('asset:gateway-clearing')).toEqual({
      ledgerAccount: 'asset:gateway-clearing',
      debits: '11210.00',
      credits: '0.00',
      balance: '11210.00',
    });
    expect(row('liability:output-cgst')?.credits).toBe('720.00');
    expect(row('liability:output-sgst')?.credits).toBe('720.00');
    expect(row('liability:output-igst')?.credits).toBe('270.00');
    expect(row('liability:output-utgst')).toBeUndefined();
    // Plans: acme 999 + upgrade 2,499.50 + Starter 349; bharat 349 + 999; chennai 349 × 2. Credits back:
    // acme's unused Professional days 499.50, bharat's unused Starter days 174.50.
    expect(row('income:subscriptions')).toMatchObject({ credits: '5893.50', debits: '674.00', balance: '-5219.50' });
    // The extra extension: ₹99 when added, ₹99 with December's charge.
    expect(row('income:add-ons')).toMatchObject({ credits: '198.00', debits: '0.00' });
    expect(row('expense:wallet-adjustments')).toMatchObject({ debits: '10.00', credits: '5.00' });
    // Usage: acme's ₹3.20 and bharat's ₹3.98 overage, chennai's UK call; re-rating gave back 3.20 and 1.98.
    const [uk] = dataOf<{ cost: string }>(history, history.chennai, 'CdrRated');
    const usageCredits = Money.parse('3.20')
      .plus(Money.parse('3.98'))
      .plus(Money.parse(uk?.cost ?? ''));
    expect(row('income:usage')).toMatchObject({ credits: usageCredits.toString(), debits: '5.18' });
    const before = await trialBalance(h.db, schema, { postedBefore: '2026-11-03T00:00:00.000Z' });
    expect(before.balanced).toBe(true);
    expect(before.accounts.find((r) => r.ledgerAccount === 'asset:gateway-clearing')?.debits).toBe('2950.00');
  });

  it('lists an account’s entries in posting order, each with its balanced lines', async () => {
    const all = await journalOfAccount(h.db, schema, history.acme, { limit: 200 });
    expect(all.items.slice(0, 3).map((entry) => entry.eventType)).toEqual([
      'WalletToppedUp',
      'SubscriptionCharged',
      'AddOnAdded',
    ]);
    expect(all.items[0]?.lines).toEqual([
      {
        lineNumber: 1,
        ledgerAccount: 'asset:gateway-clearing',
        customerAccountId: null,
        debit: '2360.00',
        credit: '0.00',
      },
      {
        lineNumber: 2,
        ledgerAccount: 'liability:customer-balances',
        customerAccountId: history.acme,
        debit: '0.00',
        credit: '2000.00',
      },
      {
        lineNumber: 3,
        ledgerAccount: 'liability:output-cgst',
        customerAccountId: null,
        debit: '0.00',
        credit: '180.00',
      },
      {
        lineNumber: 4,
        ledgerAccount: 'liability:output-sgst',
        customerAccountId: null,
        debit: '0.00',
        credit: '180.00',
      },
    ]);
    // Reservations, free calls and the scheduled (free) plan change post nothing.
    const types = new Set(all.items.map((entry) => entry.eventType));
    for (const silent of ['CallAuthorized', 'ReservationExpired', 'PaymentRecorded', 'UsageMonthStarted']) {
      expect(types.has(silent), silent).toBe(false);
    }
    expect(all.items.filter((entry) => entry.eventType === 'PlanChanged')).toHaveLength(1);
    expect(all.items.filter((entry) => entry.eventType === 'CallRerated')).toHaveLength(1);
    const paged: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page += 1) {
      const result = await journalOfAccount(h.db, schema, history.acme, { limit: 4, cursor });
      paged.push(...result.items.map((entry) => entry.entryId));
      cursor = result.nextCursor;
      if (cursor === null) break;
    }
    expect(paged).toEqual(all.items.map((entry) => entry.entryId));
    expect((await journalOfAccount(h.db, schema, history.dormant)).items).toEqual([]);
  });

  it('changes nothing when events are applied again', async () => {
    await h.expectReapplyChangesNothing(journalProjection, ['journal_entries', 'journal_lines']);
  });

  it('rebuilds the same rows as the live generation', async () => {
    await h.expectRebuildMatches('journal', ['journal_entries', 'journal_lines']);
  });

  it('reports an entry whose lines were altered so that they no longer balance', async () => {
    const live = await h.schema('journal');
    const [first] = (await journalOfAccount(h.db, live, history.acme, { limit: 1 })).items;
    await h.db.query(`UPDATE ${live}.journal_lines SET credit = credit + 1 WHERE entry_id = $1 AND line_number = 2`, [
      first?.entryId,
    ]);
    expect(await unbalancedEntries(h.db, live)).toEqual([
      { entryId: first?.entryId, accountId: history.acme, lines: 4, debits: '2360.00', credits: '2361.00' },
    ]);
    expect((await trialBalance(h.db, live)).balanced).toBe(false);
  });
});
