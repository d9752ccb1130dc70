import { describe, expect, it } from 'vitest';
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODES_PER_SET,
} from './recovery-codes.ts';

describe('recovery codes', () => {
  it('come ten at a time, distinct, as four groups of four Crockford base32 characters', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODES_PER_SET);
    expect(new Set(codes).size).toBe(RECOVERY_CODES_PER_SET);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
  });

  it('are recognised however they are typed, and hashed without the separators', () => {
    expect(normalizeRecoveryCode('abcd efgh-jkmn pqrs')).toBe('ABCDEFGHJKMNPQRS');
    expect(normalizeRecoveryCode('O1IL-0000-0000-0000')).toBe('0111000000000000');
    expect(hashRecoveryCode('abcd-efgh-jkmn-pqrs')).toBe(hashRecoveryCode('ABCDEFGHJKMNPQRS'));
    expect(hashRecoveryCode('ABCD-EFGH-JKMN-PQRS')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses what cannot be a code', () => {
    expect(normalizeRecoveryCode('ABCD-EFGH-JKMN')).toBeNull();
    expect(normalizeRecoveryCode('UUUU-UUUU-UUUU-UUUU')).toBeNull();
    expect(hashRecoveryCode('123456')).toBeNull();
  });
});
