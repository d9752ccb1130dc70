/**
 * Which Khata account pays for a call. FreeSWITCH says it one of two ways (SPEC §9):
 * - `accountcode`: the user directory (or the dialplan) sets it to the paying account's id for calls an
 *   account's own extensions place;
 * - the dialled number: an inbound call to a toll-free number is paid by the account holding that number,
 *   which the toll-free registry stream answers authoritatively (`ledger.holderOf`).
 * An `accountcode` that is not an account id (FreeSWITCH's sample directory sets `1001`) is ignored, so the
 * toll-free number still decides.
 */
import type { Ledger } from '@khata/ledger';

/** The shape Ajv's `uuid` format accepts, which every command's `accountId` must have. */
const ACCOUNT_ID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
/**
 * An Indian toll-free number as carriers deliver it: `1800…`, or with the country code (`+91`, `91`) or the
 * trunk prefix `0` in front. The registry keys numbers without them.
 */
const TOLL_FREE_DIALLED = /^(?:\+?91|0)?(1800\d{6,7})$/;
/** What StartCall and RateCdr accept as a destination (schemas' DialledNumber). */
const DIALLED_NUMBER = /^\+?\d{1,20}$/;

export type AccountSource = 'accountcode' | 'toll-free';

export interface PayingAccount {
  readonly accountId: string;
  readonly via: AccountSource;
}

export function accountIdFromCode(accountCode: string | null | undefined): string | null {
  return accountCode !== null && accountCode !== undefined && ACCOUNT_ID.test(accountCode)
    ? accountCode.toLowerCase()
    : null;
}

/** The registry's form of a dialled toll-free number, or null when the number is not one. */
export function tollFreeNumberOf(dialled: string): string | null {
  return TOLL_FREE_DIALLED.exec(dialled.trim())?.[1] ?? null;
}

export function isDialledNumber(value: string): boolean {
  return DIALLED_NUMBER.test(value);
}

export async function payingAccount(
  ledger: Pick<Ledger, 'holderOf'>,
  call: { readonly accountCode: string | null | undefined; readonly dialledNumber: string },
): Promise<PayingAccount | null> {
  const fromCode = accountIdFromCode(call.accountCode);
  if (fromCode !== null) return { accountId: fromCode, via: 'accountcode' };
  const tollFree = tollFreeNumberOf(call.dialledNumber);
  if (tollFree === null) return null;
  const { holder } = await ledger.holderOf(tollFree);
  return holder === null ? null : { accountId: holder, via: 'toll-free' };
}
