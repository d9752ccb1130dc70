import { parseStateCode } from './states.ts';

/**
 * GSTIN, the 15-character GST registration number (research/billing.md §4):
 *
 *   27 AAPFU0939F 1 Z V
 *   │  │          │ │ └ check character (Luhn mod 36 over the first 14)
 *   │  │          │ └── 14th character, `Z` by default (GSTN reserves it; other letters/digits accepted)
 *   │  │          └──── entity number for this PAN in this state: 1–9 then A–Z
 *   │  └─────────────── PAN of the holder: five letters, four digits, one letter
 *   └────────────────── state code of the registration
 *
 * The 14th character is accepted liberally: the research notes it is only "normally" `Z`, and refusing
 * a real customer's registration would block their invoice, whereas the check character still catches
 * typing mistakes. Numbers of other shapes (TAN-based TDS registrations, UINs of embassies, OIDAR
 * registrations of foreign suppliers) are not customer GSTINs for Khata and are refused.
 */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const RADIX = ALPHABET.length;
const GSTIN_LENGTH = 15;
const SHAPE = /^(\d{2})([A-Z]{5}\d{4}[A-Z])([1-9A-Z])([0-9A-Z])([0-9A-Z])$/;

export type GstinResult =
  | { readonly ok: true; readonly gstin: string; readonly stateCode: string; readonly pan: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The check character for the first 14 characters of a GSTIN: each character's value (0–35) is
 * multiplied by 1 and 2 alternately from the left, the product's base-36 digits are added up, and the
 * check character is what brings the sum to a multiple of 36.
 */
export function gstinCheckCharacter(first14: string): string {
  if (first14.length !== GSTIN_LENGTH - 1) throw new RangeError('a GSTIN check character covers 14 characters');
  let sum = 0;
  for (let index = 0; index < first14.length; index++) {
    const value = ALPHABET.indexOf(first14.charAt(index));
    if (value < 0) throw new RangeError(`not a GSTIN character: ${JSON.stringify(first14.charAt(index))}`);
    const product = value * (index % 2 === 0 ? 1 : 2);
    sum += Math.floor(product / RADIX) + (product % RADIX);
  }
  return ALPHABET.charAt((RADIX - (sum % RADIX)) % RADIX);
}

/**
 * Validates a GSTIN as typed by a person: surrounding spaces are dropped and letters upper-cased (the
 * returned `gstin` is the canonical form to store); everything else must match exactly.
 */
export function validateGstin(text: string): GstinResult {
  if (typeof text !== 'string') return { ok: false, reason: 'GSTIN must be text' };
  const gstin = text.trim().toUpperCase();
  if (gstin.length !== GSTIN_LENGTH) {
    return { ok: false, reason: `GSTIN must have ${GSTIN_LENGTH} characters, got ${gstin.length}` };
  }
  const match = SHAPE.exec(gstin);
  if (match === null) {
    return {
      ok: false,
      reason:
        'GSTIN must be a 2-digit state code, a PAN (AAAAA9999A), an entity number (1-9, A-Z) and two more characters',
    };
  }
  const [, stateCode = '', pan = ''] = match;
  const state = parseStateCode(stateCode);
  if (!state.ok) return { ok: false, reason: `GSTIN state code: ${state.reason}` };
  const expected = gstinCheckCharacter(gstin.slice(0, GSTIN_LENGTH - 1));
  if (gstin.charAt(GSTIN_LENGTH - 1) !== expected) {
    return { ok: false, reason: 'GSTIN check character does not match (mistyped?)' };
  }
  return { ok: true, gstin, stateCode, pan };
}
