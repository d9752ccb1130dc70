import { describe, expect, it } from 'vitest';
import {
  checkPasswordPolicy,
  PASSWORD_LENGTH_MAX,
  PASSWORD_LENGTH_MIN,
  PASSWORD_SCRYPT_COST,
  PasswordHasher,
} from './passwords.ts';
import { PASSWORD, TEST_SCRYPT_COST } from './test-support.ts';

const hasher = new PasswordHasher(TEST_SCRYPT_COST);

describe('password hashing', () => {
  it('stores a self-describing scrypt string with a fresh salt each time', async () => {
    const first = await hasher.hash(PASSWORD);
    const second = await hasher.hash(PASSWORD);
    expect(first).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(first).not.toBe(second);
    expect(first).not.toContain(PASSWORD);
  });

  it('verifies the right password and refuses a wrong or malformed one', async () => {
    const stored = await hasher.hash(PASSWORD);
    expect(await hasher.verify(PASSWORD, stored)).toBe(true);
    expect(await hasher.verify(`${PASSWORD} `, stored)).toBe(false);
    const flipped = stored.slice(0, -10) + (stored.at(-10) === 'A' ? 'B' : 'A') + stored.slice(-9);
    expect(await hasher.verify(PASSWORD, flipped)).toBe(false);
    expect(await hasher.verify(PASSWORD, 'plain text')).toBe(false);
    // Costs beyond the bounds are refused rather than run (a hostile string cannot exhaust memory).
    expect(await hasher.verify(PASSWORD, stored.replace('ln=10', 'ln=30'))).toBe(false);
  });

  it('verifies with the costs the string names, so raised costs still accept old hashes', async () => {
    const old = await hasher.hash(PASSWORD);
    const stronger = new PasswordHasher({ ...TEST_SCRYPT_COST, logN: 11 });
    expect(await stronger.verify(PASSWORD, old)).toBe(true);
    expect(stronger.needsRehash(old)).toBe(true);
    expect(stronger.needsRehash(await stronger.hash(PASSWORD))).toBe(false);
    expect(hasher.needsRehash(await stronger.hash(PASSWORD))).toBe(false);
  });

  it('treats canonically equivalent Unicode passwords as the same password (NFKC)', async () => {
    const composed = 'caf\u00e9 harbour lantern 42';
    const decomposed = 'cafe\u0301 harbour lantern 42';
    expect(await hasher.verify(decomposed, await hasher.hash(composed))).toBe(true);
  });

  it('does the same work for a user that does not exist, and never succeeds', async () => {
    expect(await hasher.verifyNobody(PASSWORD)).toBe(false);
  });

  it('uses N = 2^16, r = 8, p = 1 in production, and those costs round-trip', async () => {
    expect(PASSWORD_SCRYPT_COST).toEqual({ logN: 16, blockSize: 8, parallelization: 1 });
    const production = new PasswordHasher();
    const stored = await production.hash(PASSWORD);
    expect(stored.startsWith('$scrypt$ln=16,r=8,p=1$')).toBe(true);
    expect(await production.verify(PASSWORD, stored)).toBe(true);
  });

  it('refuses costs outside the bounds', () => {
    expect(() => new PasswordHasher({ logN: 25, blockSize: 8, parallelization: 1 })).toThrow(RangeError);
    expect(() => new PasswordHasher({ logN: 10, blockSize: 0, parallelization: 1 })).toThrow(RangeError);
  });
});

describe('password policy', () => {
  const inputs = ['asha.rao@example.com', 'Asha Rao'];

  it(`refuses passwords shorter than ${PASSWORD_LENGTH_MIN} characters or longer than ${PASSWORD_LENGTH_MAX}`, () => {
    expect(checkPasswordPolicy('Xq7!pLm2#vR', inputs)).toMatchObject({ code: 'PASSWORD_TOO_SHORT' });
    expect(checkPasswordPolicy('x'.repeat(PASSWORD_LENGTH_MAX + 1), inputs)).toMatchObject({
      code: 'PASSWORD_TOO_LONG',
    });
  });

  it('refuses common, breached and patterned passwords however long', () => {
    for (const weak of [
      'password1234',
      'Password123!',
      'qwertyuiop12',
      'iloveyou2024',
      'abcdefghijkl',
      'aaaaaaaaaaaa',
    ]) {
      expect(checkPasswordPolicy(weak, inputs), weak).toMatchObject({ code: 'WEAK_PASSWORD' });
    }
  });

  it("refuses the user's own name and address dressed up", () => {
    expect(checkPasswordPolicy('asharao12345', inputs)).toMatchObject({ code: 'WEAK_PASSWORD' });
    expect(checkPasswordPolicy('Asha.Rao@2026', inputs)).toMatchObject({ code: 'WEAK_PASSWORD' });
  });

  it('accepts passphrases and random passwords', () => {
    expect(checkPasswordPolicy(PASSWORD, inputs)).toBeNull();
    expect(checkPasswordPolicy('correct horse battery staple', inputs)).toBeNull();
    expect(checkPasswordPolicy('hT7#kq9!Lm2@xZ', inputs)).toBeNull();
  });
});
