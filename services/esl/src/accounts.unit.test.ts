import { describe, expect, it } from 'vitest';
import {
  accountIdFromCode,
  isDialledNumber,
  payingAccount,
  TOLL_FREE_HOLDER_TTL_MILLISECONDS,
  TollFreeHolders,
  tollFreeNumberOf,
} from './accounts.ts';

const ACCOUNT = '3f0b1c8e-7a2d-4e4f-9b6a-1c2d3e4f5a6b';

describe('the paying account of a call', () => {
  it('takes an account id from accountcode, and ignores an accountcode that is not one', () => {
    expect(accountIdFromCode(ACCOUNT.toUpperCase())).toBe(ACCOUNT);
    expect(accountIdFromCode('1001')).toBeNull();
    expect(accountIdFromCode('')).toBeNull();
    expect(accountIdFromCode(null)).toBeNull();
  });

  it.each([
    ['18004190001', '18004190001'],
    ['1800419001', '1800419001'],
    ['+9118004190001', '18004190001'],
    ['9118004190001', '18004190001'],
    ['018004190001', '18004190001'],
    ['+14155550100', null],
    ['180041900011', null],
    ['*98', null],
  ])('reads the toll-free number of %s as %s', (dialled, expected) => {
    expect(tollFreeNumberOf(dialled)).toBe(expected);
  });

  it('asks the toll-free registry only when accountcode names no account', async () => {
    const asked: string[] = [];
    const ledger = {
      holderOf: async (number: string) => {
        asked.push(number);
        return { holder: number === '18004190001' ? ACCOUNT : null, version: 1n };
      },
    };
    expect(await payingAccount(ledger, { accountCode: ACCOUNT, dialledNumber: '18004190001' })).toEqual({
      accountId: ACCOUNT,
      via: 'accountcode',
    });
    expect(asked).toEqual([]);
    expect(await payingAccount(ledger, { accountCode: '1001', dialledNumber: '+9118004190001' })).toEqual({
      accountId: ACCOUNT,
      via: 'toll-free',
    });
    expect(await payingAccount(ledger, { accountCode: null, dialledNumber: '18009999999' })).toBeNull();
    expect(await payingAccount(ledger, { accountCode: null, dialledNumber: '+14155550100' })).toBeNull();
    expect(asked).toEqual(['18004190001', '18009999999']);
  });

  it('accepts as destinations only what StartCall accepts', () => {
    expect(isDialledNumber('+14155550100')).toBe(true);
    expect(isDialledNumber('18004190001')).toBe(true);
    expect(isDialledNumber('*98')).toBe(false);
    expect(isDialledNumber('user/101')).toBe(false);
  });
});

describe('the toll-free holders a connector remembers', () => {
  const OTHER = '9a1e2d3c-4b5a-4697-8877-665544332211';

  /** A registry that counts its reads; `release` answers the reads waiting when `held` is set. */
  function registry() {
    const holders = new Map<string, string>([['18004190001', ACCOUNT]]);
    let reads = 0;
    let held: (() => void)[] | null = null;
    return {
      holders,
      get reads() {
        return reads;
      },
      hold() {
        held = [];
      },
      release() {
        const waiting = held ?? [];
        held = null;
        for (const resume of waiting) resume();
      },
      ledger: {
        holderOf: async (number: string) => {
          reads += 1;
          if (held !== null) await new Promise<void>((resume) => held?.push(resume));
          return { holder: holders.get(number) ?? null, version: 1n };
        },
      },
    };
  }

  it('reads a number once while it is fresh, and again after its time to live', async () => {
    const source = registry();
    let now = 0;
    const holders = new TollFreeHolders({ ledger: source.ledger, now: () => now });
    expect((await holders.holderOf('18004190001')).holder).toBe(ACCOUNT);
    now += TOLL_FREE_HOLDER_TTL_MILLISECONDS - 1;
    expect((await holders.holderOf('18004190001')).holder).toBe(ACCOUNT);
    expect(source.reads).toBe(1);
    source.holders.set('18004190001', OTHER);
    now += 1;
    expect((await holders.holderOf('18004190001')).holder).toBe(OTHER);
    expect(source.reads).toBe(2);
  });

  it('shares one read among simultaneous lookups of a number', async () => {
    const source = registry();
    const holders = new TollFreeHolders({ ledger: source.ledger, now: () => 0 });
    source.hold();
    const lookups = Array.from({ length: 5 }, () => holders.holderOf('18004190001'));
    source.release();
    expect((await Promise.all(lookups)).map((found) => found.holder)).toEqual(Array(5).fill(ACCOUNT));
    expect(source.reads).toBe(1);
  });

  it('forgets a number the registry changed, and does not keep what a read begun before the change found', async () => {
    const source = registry();
    const holders = new TollFreeHolders({ ledger: source.ledger, now: () => 0 });
    expect((await holders.holderOf('18004190001')).holder).toBe(ACCOUNT);
    source.holders.set('18004190001', OTHER);
    holders.forget('18004190001');
    expect((await holders.holderOf('18004190001')).holder).toBe(OTHER);

    // A read in flight when the number moves again: its answer is not remembered.
    holders.forget('18004190001');
    source.hold();
    const stale = holders.holderOf('18004190001');
    source.holders.delete('18004190001');
    holders.forget('18004190001');
    source.release();
    await stale;
    expect((await holders.holderOf('18004190001')).holder).toBeNull();
  });

  it('remembers at most its bound of numbers, forgetting the oldest first', async () => {
    const source = registry();
    const holders = new TollFreeHolders({ ledger: source.ledger, now: () => 0, entriesMax: 2 });
    for (const number of ['18004190001', '18004190002', '18004190003']) await holders.holderOf(number);
    expect(holders.size).toBe(2);
    await holders.holderOf('18004190003');
    expect(source.reads).toBe(3);
    await holders.holderOf('18004190001');
    expect(source.reads).toBe(4);
  });
});
