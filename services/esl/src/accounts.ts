/**
 * Which Khata account pays for a call. FreeSWITCH says it one of two ways (SPEC §9):
 * - `accountcode`: the user directory (or the dialplan) sets it to the paying account's id for calls an
 *   account's own extensions place;
 * - the dialled number: an inbound call to a toll-free number is paid by the account holding that number,
 *   which the toll-free registry stream answers authoritatively (`ledger.holderOf`); the connector remembers
 *   the answers (TollFreeHolders) and forgets a number as soon as its registry changes.
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

/** How long a toll-free number's holder is trusted without news from the log (the registry follower's backstop). */
export const TOLL_FREE_HOLDER_TTL_MILLISECONDS = 5_000;
/** Toll-free numbers whose holder is remembered; beyond this the oldest entry is forgotten first. */
export const TOLL_FREE_HOLDERS_CACHED_MAX = 20_000;

interface CachedHolder {
  readonly holder: string | null;
  readonly version: bigint;
  readonly fetchedAtMilliseconds: number;
}

/**
 * The holders of toll-free numbers, remembered between calls. Reading the registry stream for every parked call
 * was one database round trip on the way of each call (a third of an unloaded decision). An entry is dropped as
 * soon as the connector's registry follower sees a claim or release of its number (`forget`): within the log's
 * poll interval for changes made by other processes (at most 250 ms), so a number moved to another account bills
 * its calls there from then on. TOLL_FREE_HOLDER_TTL_MILLISECONDS bounds an entry's life in case the follower is
 * held up (the store down). Concurrent lookups of one number share one read.
 */
export class TollFreeHolders implements Pick<Ledger, 'holderOf'> {
  readonly #ledger: Pick<Ledger, 'holderOf'>;
  readonly #now: () => number;
  readonly #ttlMilliseconds: number;
  readonly #entriesMax: number;
  readonly #entries = new Map<string, CachedHolder>();
  readonly #reading = new Map<string, Promise<{ holder: string | null; version: bigint }>>();
  /** Moves on every `forget`: a read that started before one does not fill the cache with what it found. */
  #epoch = 0;

  constructor(options: {
    readonly ledger: Pick<Ledger, 'holderOf'>;
    /** Monotonic milliseconds. */
    readonly now: () => number;
    readonly ttlMilliseconds?: number;
    readonly entriesMax?: number;
  }) {
    this.#ledger = options.ledger;
    this.#now = options.now;
    this.#ttlMilliseconds = options.ttlMilliseconds ?? TOLL_FREE_HOLDER_TTL_MILLISECONDS;
    this.#entriesMax = options.entriesMax ?? TOLL_FREE_HOLDERS_CACHED_MAX;
  }

  holderOf(number: string): Promise<{ holder: string | null; version: bigint }> {
    const cached = this.#entries.get(number);
    if (cached !== undefined && this.#now() - cached.fetchedAtMilliseconds < this.#ttlMilliseconds) {
      return Promise.resolve({ holder: cached.holder, version: cached.version });
    }
    const pending = this.#reading.get(number);
    if (pending !== undefined) return pending;
    const epoch = this.#epoch;
    const fetchedAtMilliseconds = this.#now();
    const read = this.#ledger.holderOf(number).then(
      (found) => {
        if (this.#reading.get(number) === read) this.#reading.delete(number);
        if (epoch === this.#epoch) this.#remember(number, { ...found, fetchedAtMilliseconds });
        return found;
      },
      (error: unknown) => {
        if (this.#reading.get(number) === read) this.#reading.delete(number);
        throw error;
      },
    );
    this.#reading.set(number, read);
    return read;
  }

  /** The registry of `number` changed: the next lookup reads it again. */
  forget(number: string): void {
    this.#epoch += 1;
    this.#entries.delete(number);
    this.#reading.delete(number);
  }

  get size(): number {
    return this.#entries.size;
  }

  #remember(number: string, entry: CachedHolder): void {
    this.#entries.delete(number);
    this.#entries.set(number, entry);
    while (this.#entries.size > this.#entriesMax) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}
