import { FOLLOWER_FAILING_SECONDS_MAX } from './followers.ts';
import type { Khata } from './khata.ts';

/** How long one dependency may take to answer a readiness check before it counts as down. */
export const READINESS_CHECK_TIMEOUT_MILLISECONDS = 2_000;

export interface Readiness {
  readonly ready: boolean;
  /** `ok`, or why not, per dependency (`eventStore`, `readModels`, `hotProjection`) and per log follower. */
  readonly checks: Readonly<Record<string, string>>;
}

function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), READINESS_CHECK_TIMEOUT_MILLISECONDS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether this process can do its work: its stores answer, and none of its log followers has been failing
 * for longer than FOLLOWER_FAILING_SECONDS_MAX (a follower that cannot read serves stale tariffs, stops
 * extending calls or stops live updates). Followers appear as `follower:<name>`.
 */
export async function readiness(
  khata: Pick<Khata, 'eventStore' | 'readDb' | 'hot' | 'followers'>,
  followerFailingSecondsMax: number = FOLLOWER_FAILING_SECONDS_MAX,
): Promise<Readiness> {
  const checks: Record<string, string> = {};
  const run = async (name: string, check: () => Promise<unknown>): Promise<void> => {
    try {
      await withTimeout(check());
      checks[name] = 'ok';
    } catch (error) {
      checks[name] = error instanceof Error ? error.message : String(error);
    }
  };
  await Promise.all([
    run('eventStore', () => khata.eventStore.headPosition()),
    run('readModels', () => khata.readDb.query('SELECT 1')),
    run('hotProjection', () => khata.hot.store.checkpoint()),
  ]);
  // Every follower is listed; one failing for less than the bound is still `ok` (a blip is not an outage).
  for (const status of khata.followers.statuses()) checks[`follower:${status.name}`] = 'ok';
  for (const { status, failingSeconds } of khata.followers.failing(followerFailingSecondsMax)) {
    checks[`follower:${status.name}`] =
      `failing for ${Math.floor(failingSeconds)} s (${status.consecutiveFailures} attempts): ${status.lastError ?? 'unknown error'}`;
  }
  return { ready: Object.values(checks).every((value) => value === 'ok'), checks };
}
