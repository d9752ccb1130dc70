import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gstinCheckCharacter, validateGstin } from './gstin.ts';

describe('validateGstin', () => {
  it('accepts the published valid GSTINs and returns their state and PAN', () => {
    expect(validateGstin('27AAPFU0939F1ZV')).toEqual({
      ok: true,
      gstin: '27AAPFU0939F1ZV',
      stateCode: '27',
      pan: 'AAPFU0939F',
    });
    expect(validateGstin('24AAQCA8719H1ZC')).toEqual({
      ok: true,
      gstin: '24AAQCA8719H1ZC',
      stateCode: '24',
      pan: 'AAQCA8719H',
    });
  });

  it('refuses a wrong check character, including the GSTN sample that fails its own check', () => {
    for (const gstin of ['27AAPFU0939F1ZX', '01AABCE2207R1Z5']) {
      const result = validateGstin(gstin);
      expect(result.ok, gstin).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/check character/);
    }
  });

  it('normalises spaces and lower case to the canonical form a person would expect to see stored', () => {
    expect(validateGstin('  27aapfu0939f1zv ')).toMatchObject({ ok: true, gstin: '27AAPFU0939F1ZV' });
  });

  it('names what is wrong with a malformed number', () => {
    const reasons = (text: string): string => {
      const result = validateGstin(text);
      return result.ok ? 'ok' : result.reason;
    };
    expect(reasons('27AAPFU0939F1Z')).toMatch(/15 characters/);
    expect(reasons('27AAPF10939F1ZV')).toMatch(/PAN/); // digit inside the PAN's letters
    expect(reasons('27AAPFU0939F0ZV')).toMatch(/entity number/); // entity number 0
    expect(reasons('27AAPFU0939F1-V')).toMatch(/two more characters/);
    expect(reasons('39AAPFU0939F1ZV')).toMatch(/39 is not a GST state code/);
    expect(reasons('00AAPFU0939F1ZV')).toMatch(/not a GST state code/);
  });

  it('refuses a retired state code and names its successor', () => {
    const first14 = '25AAPFU0939F1Z';
    const result = validateGstin(first14 + gstinCheckCharacter(first14));
    expect(result).toEqual({ ok: false, reason: 'GSTIN state code: 25 (Daman and Diu) is retired; use 26' });
  });

  it('accepts a 14th character other than Z when the check character matches', () => {
    const first14 = '29AAPFU0939F1D';
    expect(validateGstin(first14 + gstinCheckCharacter(first14))).toMatchObject({ ok: true, stateCode: '29' });
  });

  it('catches every single-character substitution (property)', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const valid = '27AAPFU0939F1ZV';
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 14 }), fc.constantFrom(...alphabet), (position, replacement) => {
        fc.pre(valid.charAt(position) !== replacement);
        const changed = valid.slice(0, position) + replacement + valid.slice(position + 1);
        expect(validateGstin(changed).ok).toBe(false);
      }),
    );
  });
});
