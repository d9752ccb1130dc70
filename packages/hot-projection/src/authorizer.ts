import { type AccountDecider, isRejection } from '@khata/domain';
import type { HotAccount, HotStore } from './store.ts';

export interface AuthorizationDecision {
  readonly authorized: boolean;
  /** Seconds the call may last (0 when refused). */
  readonly maxSeconds: number;
  /** A rejection code (`INSUFFICIENT_FUNDS`, `ACCOUNT_SUSPENDED`, …) or `OK`. */
  readonly reason: string;
  /** The account version the decision was made on (null when the projection could not answer). */
  readonly version: string | null;
}

export type UnavailablePolicy =
  | { readonly mode: 'fail-closed' }
  /** Allow calls up to `maxSeconds` while the hot projection cannot answer (the append still decides). */
  | { readonly mode: 'fail-open'; readonly maxSeconds: number };

export interface CallAuthorizerOptions {
  readonly hot: HotStore;
  readonly decider: AccountDecider;
  /** Fills a miss (an account the store does not have: new, evicted, flushed). */
  readonly reload: (accountId: string) => Promise<HotAccount>;
  readonly policy: UnavailablePolicy;
}

/**
 * Answers "may this call start, and for how long?" from the hot projection only, by running the same
 * decider that will judge the `StartCall` append — so the fast answer and the authority agree whenever
 * the projection is current, and the append corrects it when it is not.
 */
export class CallAuthorizer {
  readonly #options: CallAuthorizerOptions;

  constructor(options: CallAuthorizerOptions) {
    this.#options = options;
  }

  /**
   * What callers do when no authority can answer: the hot projection is unreachable here, and the
   * `StartCall` append that would decide instead fails too (the event store is down). Fail-closed refuses
   * the call; fail-open lets it through for at most `maxSeconds`, without a reservation (its CDR is rated
   * when it arrives, and may overdraw the account by at most that call).
   */
  get policy(): UnavailablePolicy {
    return this.#options.policy;
  }

  async authorize(
    accountId: string,
    destination: string,
    now: Date,
    callId = 'authorization-check',
  ): Promise<AuthorizationDecision> {
    let account: HotAccount | null;
    try {
      account = await this.#options.hot.get(accountId);
      if (account === null) account = await this.#options.reload(accountId);
    } catch {
      return this.#unavailable();
    }
    return this.decide(account, accountId, destination, now, callId);
  }

  /** The decision on a given state (the in-process path calls this without awaiting a store). */
  decide(
    account: HotAccount,
    accountId: string,
    destination: string,
    now: Date,
    callId: string,
  ): AuthorizationDecision {
    const decision = this.#options.decider.decide(
      {
        type: 'StartCall',
        commandId: '00000000-0000-4000-8000-000000000000',
        accountId,
        callId,
        destination,
        at: now.toISOString(),
      },
      account.state,
      now,
    );
    const version = account.version.toString();
    if (isRejection(decision)) return { authorized: false, maxSeconds: 0, reason: decision.code, version };
    const authorized = decision.find((event) => event.type === 'CallAuthorized');
    if (authorized !== undefined && authorized.type === 'CallAuthorized') {
      return { authorized: true, maxSeconds: authorized.data.maxSeconds, reason: 'OK', version };
    }
    // No CallAuthorized: the call already holds a reservation (a repeated park).
    const existing = account.state.reservations.get(callId);
    return {
      authorized: existing !== undefined,
      maxSeconds: existing?.maxSeconds ?? 0,
      reason: existing === undefined ? 'UNKNOWN' : 'OK',
      version,
    };
  }

  #unavailable(): AuthorizationDecision {
    const { policy } = this.#options;
    if (policy.mode === 'fail-open')
      return { authorized: true, maxSeconds: policy.maxSeconds, reason: 'HOT_PROJECTION_UNAVAILABLE', version: null };
    return { authorized: false, maxSeconds: 0, reason: 'HOT_PROJECTION_UNAVAILABLE', version: null };
  }
}
