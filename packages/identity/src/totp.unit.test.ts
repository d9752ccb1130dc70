import { describe, expect, it } from 'vitest';
import { T0 } from './test-support.ts';
import { generateTotpSecret, TOTP_PERIOD_SECONDS, totpCode, totpTimeStep, totpUri, verifyTotp } from './totp.ts';

const secret = generateTotpSecret();
const stepStartMs = (step: number) => step * TOTP_PERIOD_SECONDS * 1_000;

describe('TOTP', () => {
  it('makes a 160-bit base32 secret and an otpauth URI authenticator apps read', () => {
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(totpUri(secret, { issuer: 'Khata', label: 'asha@example.com' }));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Khata:asha@example.com');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Khata');
  });

  it('accepts the code of the current step and one step either side, to the millisecond', async () => {
    const step = totpTimeStep(new Date(T0));
    const code = await totpCode(secret, new Date(stepStartMs(step)));
    const at = (ms: number) => verifyTotp(secret, code, new Date(ms));
    // The verifier's clock one step behind the code (first millisecond of step − 1): accepted.
    expect(await at(stepStartMs(step - 1))).toBe(step);
    // Two steps behind (last millisecond of step − 2): refused.
    expect(await at(stepStartMs(step - 1) - 1)).toBeNull();
    expect(await at(stepStartMs(step))).toBe(step);
    expect(await at(stepStartMs(step + 1) - 1)).toBe(step);
    // One step ahead, to its last millisecond: accepted; the first millisecond of step + 2: refused.
    expect(await at(stepStartMs(step + 2) - 1)).toBe(step);
    expect(await at(stepStartMs(step + 2))).toBeNull();
  });

  it('refuses wrong and malformed codes', async () => {
    const now = new Date(T0);
    const code = await totpCode(secret, now);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(await verifyTotp(secret, wrong, now)).toBeNull();
    expect(await verifyTotp(secret, `${code}0`, now)).toBeNull();
    expect(await verifyTotp(secret, 'abcdef', now)).toBeNull();
    expect(await verifyTotp(generateTotpSecret(), code, now)).toBeNull();
  });

  it('agrees with the RFC 6238 test vector (SHA-1, T = 59 s → 94287082, last six digits)', async () => {
    // RFC 6238 Appendix B: the ASCII secret "12345678901234567890", base32-encoded.
    const rfcSecret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(await totpCode(rfcSecret, new Date(59_000))).toBe('287082');
    expect(await verifyTotp(rfcSecret, '287082', new Date(59_000))).toBe(1);
  });
});
