import { createHash, randomBytes } from 'node:crypto';

/**
 * One-time recovery codes for when the authenticator is lost: `RECOVERY_CODES_PER_SET` codes of 16
 * characters from Crockford's base32 alphabet (80 random bits each), shown once as `XXXX-XXXX-XXXX-XXXX`
 * and stored only as SHA-256 hashes. 80 bits is out of reach of offline guessing, so a fast hash is
 * enough (a slow one would make every recovery login pay for up to ten derivations).
 */
export const RECOVERY_CODES_PER_SET = 10;
const CODE_CHARACTERS = 16;
const GROUP_CHARACTERS = 4;
/** Crockford's base32: no I, L, O, U, so codes read aloud or typed by hand survive. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BITS_PER_CHARACTER = 5;

export function generateRecoveryCodes(count = RECOVERY_CODES_PER_SET): string[] {
  const codes = new Set<string>();
  // Duplicates among 80-bit random values do not happen in practice; the bound only proves termination.
  for (let attempt = 0; codes.size < count && attempt < count * 2; attempt += 1) codes.add(randomCode());
  if (codes.size < count) throw new Error('could not draw distinct recovery codes');
  return [...codes];
}

function randomCode(): string {
  const bytes = randomBytes((CODE_CHARACTERS * BITS_PER_CHARACTER) / 8);
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let characters = '';
  for (let index = 0; index < CODE_CHARACTERS; index += 1) {
    characters = ALPHABET[Number(bits & 31n)] + characters;
    bits >>= 5n;
  }
  const groups = characters.match(new RegExp(`.{${GROUP_CHARACTERS}}`, 'g')) ?? [];
  return groups.join('-');
}

/**
 * The canonical form of a typed recovery code (upper case, no separators, Crockford's look-alikes
 * folded: O → 0, I and L → 1), or null when it cannot be one.
 */
export function normalizeRecoveryCode(code: string): string | null {
  const canonical = code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (canonical.length !== CODE_CHARACTERS) return null;
  for (const character of canonical) if (!ALPHABET.includes(character)) return null;
  return canonical;
}

export function hashRecoveryCode(code: string): string | null {
  const canonical = normalizeRecoveryCode(code);
  return canonical === null ? null : createHash('sha256').update(canonical).digest('hex');
}
