import { describe, expect, it } from 'vitest';
import { findState, GST_STATES, parseStateCode } from './states.ts';

describe('GST state codes', () => {
  it('lists 01 to 38 and 97, each once', () => {
    const codes = GST_STATES.map((entry) => entry.code);
    const expected = [...Array.from({ length: 38 }, (_, index) => String(index + 1).padStart(2, '0')), '97'];
    expect(codes).toEqual(expected);
  });

  it('marks the Union territories without a legislature as UTGST and the rest as SGST', () => {
    const utgst = GST_STATES.filter((entry) => entry.stateTax === 'utgst' && entry.replacedBy === undefined);
    expect(utgst.map((entry) => entry.code)).toEqual(['04', '26', '31', '35', '38', '97']);
    for (const code of ['01', '07', '34', '27', '29']) expect(findState(code)?.stateTax, code).toBe('sgst');
  });

  it('uses the names printed on GST invoices', () => {
    expect(findState('26')?.name).toBe('Dadra and Nagar Haveli and Daman and Diu');
    expect(findState('97')?.name).toBe('Other Territory');
    expect(findState('21')?.name).toBe('Odisha');
  });

  it('accepts current codes and refuses retired, unknown and malformed ones with a reason', () => {
    expect(parseStateCode('29')).toMatchObject({ ok: true, state: { code: '29', name: 'Karnataka' } });
    expect(parseStateCode('25')).toEqual({ ok: false, reason: '25 (Daman and Diu) is retired; use 26' });
    expect(parseStateCode('28')).toMatchObject({ ok: false, reason: expect.stringMatching(/use 37/) });
    expect(parseStateCode('39')).toEqual({ ok: false, reason: '39 is not a GST state code' });
    expect(parseStateCode('7')).toMatchObject({ ok: false, reason: expect.stringMatching(/two digits/) });
    expect(parseStateCode('99')).toMatchObject({ ok: false });
  });
});
