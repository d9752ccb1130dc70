/**
 * Helpers for the identity tests: a clock the test moves by hand, cheap scrypt costs, and a fresh
 * `Identity` over any event store.
 */
import type { EventStore } from '@khata/event-store';
import { Identity } from './identity.ts';
import type { ScryptCost } from './passwords.ts';
import { DEFAULT_IDENTITY_SETTINGS, type IdentitySettings } from './settings.ts';

/** 2^10 instead of 2^16: a hash takes about a millisecond, so the suites stay fast. */
export const TEST_SCRYPT_COST: ScryptCost = { logN: 10, blockSize: 8, parallelization: 1 };

/** Monday 2 November 2026, 10:00 IST. */
export const T0 = '2026-11-02T04:30:00.000Z';

/** Strong enough for the password policy, and easy to read in a test. */
export const PASSWORD = 'violet harbour lantern 42';
export const OTHER_PASSWORD = 'quiet copper meadow 7719';

export class TestClock {
  #now: Date;

  constructor(start: string = T0) {
    this.#now = new Date(start);
  }

  readonly now = (): Date => new Date(this.#now.getTime());

  advanceSeconds(seconds: number): void {
    this.#now = new Date(this.#now.getTime() + seconds * 1_000);
  }

  set(instant: string | Date): void {
    this.#now = new Date(instant);
  }
}

export interface TestIdentity {
  readonly identity: Identity;
  readonly clock: TestClock;
  readonly store: EventStore;
}

export async function testIdentity(
  store: EventStore,
  options: { readonly settings?: IdentitySettings; readonly clock?: TestClock; readonly cost?: ScryptCost } = {},
): Promise<TestIdentity> {
  const clock = options.clock ?? new TestClock();
  const identity = await Identity.open({
    store,
    clock: clock.now,
    keysDirectory: null,
    settings: options.settings ?? DEFAULT_IDENTITY_SETTINGS,
    passwordCost: options.cost ?? TEST_SCRYPT_COST,
  });
  return { identity, clock, store };
}

export const DEVICE = { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', ip: '203.0.113.7' } as const;
