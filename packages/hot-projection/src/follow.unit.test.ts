/**
 * How the hot projector follows the log: as a latency-critical subscriber, so that in a worker whose read models are
 * catching up with a burst it reads ahead on its own instead of waiting for them (call authorization sees what it
 * holds), and it still ends up with the authority's state.
 */
import { type FollowLogOptions, followLog } from '@khata/event-store';
import { expect, it } from 'vitest';
import { MemoryHotStore } from './store.ts';
import { ledgerWithAccount, startedProjector, until } from './test-support.ts';

it('follows account streams as a latency-critical subscriber, and holds the authority’s state', async () => {
  const { store, ledger, accountId } = await ledgerWithAccount('590.00');
  const hot = new MemoryHotStore();
  const followed: FollowLogOptions[] = [];
  const projector = await startedProjector(store, hot, {
    follow: (options) => {
      followed.push(options);
      return followLog(options);
    },
  });
  try {
    expect(followed).toHaveLength(1);
    expect(followed[0]).toMatchObject({ latencyCritical: true, filter: { streamPrefixes: ['account-'] } });
    const authority = await ledger.load(accountId);
    await until(async () => (await hot.get(accountId))?.version === authority.version);
    expect((await hot.get(accountId))?.state.balance.toString()).toBe(authority.state.balance.toString());
  } finally {
    await projector.stop();
  }
});
