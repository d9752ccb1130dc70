import { describe, expect, it } from 'vitest';
import { accountIdFromCode, isDialledNumber, payingAccount, tollFreeNumberOf } from './accounts.ts';

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
