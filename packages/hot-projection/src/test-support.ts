/**
 * Helpers for the hot projector's tests: a ledger over an in-memory event store with one prepaid account opened
 * and topped up, a started projector, and a bounded wait for a condition.
 */
import { randomUUID } from 'node:crypto';
import { type EventStore, MemoryEventStore } from '@khata/event-store';
import { Ledger, MemoryCommandLog, MemorySnapshotStore } from '@khata/ledger';
import { catalogRules } from '@khata/ledger/testing';
import { HotProjector, type HotProjectorOptions, loaderFrom } from './projector.ts';
import type { HotStore } from './store.ts';

const NOW = Date.parse('2026-11-02T04:30:00.000Z');
const META = { actor: 'user:test' };
const WAIT_MS_MAX = 10_000;

/** Resolves once `condition` holds; fails after WAIT_MS_MAX. */
export async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + WAIT_MS_MAX;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A ledger with one prepaid account whose wallet holds `topUp` (GST-inclusive rupees), subscribed to `planId`
 * when given, on `store` (a fresh in-memory one by default); `run` executes more commands on the account.
 */
export async function ledgerWithAccount<Store extends EventStore = MemoryEventStore>(
  topUp: string,
  options: { readonly store?: Store; readonly planId?: string } = {},
) {
  const store = options.store ?? (new MemoryEventStore() as EventStore as Store);
  const ledger = new Ledger({
    store,
    commandLog: new MemoryCommandLog(),
    snapshots: new MemorySnapshotStore(),
    rules: catalogRules,
    clock: () => new Date(NOW),
  });
  const accountId = randomUUID();
  const run = async (type: string, fields: object): Promise<void> => {
    const outcome = await ledger.execute({ type, commandId: randomUUID(), accountId, ...fields }, META);
    if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code}`);
  };
  await run('OpenAccount', {
    legalName: 'Acme',
    contact: { name: 'Asha', email: 'a@acme.example', phone: '+91 98450 00000' },
    billingAddress: { line1: '1 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode: 'prepaid',
  });
  await run('TopUpWallet', { amount: topUp });
  if (options.planId !== undefined) await run('Subscribe', { planId: options.planId, cycle: 'monthly' });
  return { store, ledger, accountId, run, now: new Date(NOW) };
}

/**
 * A hot projector over `store` into `hot`, started, with no read model behind it (accounts are loaded from their
 * streams); `options` adds to or overrides that. The caller stops it.
 */
export async function startedProjector(
  store: EventStore,
  hot: HotStore,
  options: Partial<HotProjectorOptions> = {},
): Promise<HotProjector> {
  const projector = new HotProjector({
    store,
    hot,
    loadAccount: loaderFrom(async () => null, store),
    loadAll: async () => [],
    coldStartPosition: async () => null,
    ...options,
  });
  await projector.start();
  return projector;
}
