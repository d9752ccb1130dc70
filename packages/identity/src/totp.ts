import { generate, generateSecret, generateURI, verify } from 'otplib';

/**
 * TOTP (RFC 6238) as authenticator apps expect it: SHA-1, 6 digits, 30-second steps, a 160-bit secret
 * (RFC 4226 §4 recommends 160 bits). Time always comes from the caller, never from the system clock,
 * so tests can sit on the edges of the window.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one: ±1 tolerates 30 s of clock drift or typing delay. */
export const TOTP_WINDOW_STEPS = 1;
const TOTP_SECRET_BYTES = 20;
const CODE = /^\d{6}$/;

export function generateTotpSecret(): string {
  return generateSecret({ length: TOTP_SECRET_BYTES });
}

export function totpUri(secret: string, options: { readonly issuer: string; readonly label: string }): string {
  return generateURI({
    issuer: options.issuer,
    label: options.label,
    secret,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** The RFC 6238 time step `at` falls in. */
export function totpTimeStep(at: Date): number {
  return Math.floor(at.getTime() / 1_000 / TOTP_PERIOD_SECONDS);
}

/** The code for `at` (tests, and tools that show the current code). */
export function totpCode(secret: string, at: Date): Promise<string> {
  return generate({
    secret,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    epoch: Math.floor(at.getTime() / 1_000),
  });
}

export function looksLikeTotpCode(code: string): boolean {
  return CODE.test(code);
}

/**
 * The time step whose code `code` is, within ±TOTP_WINDOW_STEPS of `now`; null when it matches none.
 * Comparison is constant-time (otplib). Replays are the decider's business: it knows the last step used.
 */
export async function verifyTotp(secret: string, code: string, now: Date): Promise<number | null> {
  if (!looksLikeTotpCode(code)) return null;
  const result = await verify({
    secret,
    token: code,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    epoch: Math.floor(now.getTime() / 1_000),
    // otplib counts the window in seconds: one period either side is exactly one step either side.
    epochTolerance: TOTP_WINDOW_STEPS * TOTP_PERIOD_SECONDS,
  });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}
