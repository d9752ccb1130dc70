import type { Destination, Tariff } from './tariff.ts';

/** ITU-T E.164 numbers have at most 15 digits; dial strings with carrier codes run a little longer. */
export const DIALLED_DIGITS_MAX = 32;

/**
 * The digits of a dialled number as tariffs match them: spaces and dashes ignored, then one leading `+`
 * or `00` (international prefix) stripped. Null when anything but digits remains, or nothing does.
 */
export function normalizeDialled(dialled: string): string | null {
  const compact = dialled.replace(/[\s-]/g, '');
  const digits = compact.startsWith('+') ? compact.slice(1) : compact.startsWith('00') ? compact.slice(2) : compact;
  if (!/^\d+$/.test(digits) || digits.length > DIALLED_DIGITS_MAX) return null;
  return digits;
}

export interface DestinationMatch {
  readonly destination: Destination;
  /** The prefix that matched (`*` for the catch-all). */
  readonly prefix: string;
  /** The normalized number. */
  readonly digits: string;
}

/**
 * The destination of a dialled number: the longest digit prefix that the number starts with, else the
 * `*` destination, else null (the call is not authorized: DESTINATION_NOT_RATED). A number that is not
 * digits after normalization matches nothing, not even `*`: it cannot be a real destination.
 * Cost: one map look-up per prefix length, at most `tariff.prefixLengthMax`.
 */
export function matchDestination(tariff: Tariff, dialled: string): DestinationMatch | null {
  const digits = normalizeDialled(dialled);
  if (digits === null) return null;
  for (let length = Math.min(digits.length, tariff.prefixLengthMax); length >= 1; length -= 1) {
    const prefix = digits.slice(0, length);
    const destination = tariff.destinationByPrefix.get(prefix);
    if (destination !== undefined) return { destination, prefix, digits };
  }
  if (tariff.wildcardDestination !== null) return { destination: tariff.wildcardDestination, prefix: '*', digits };
  return null;
}
