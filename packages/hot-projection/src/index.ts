/**
 * @khata/hot-projection — what call authorization reads: each account's folded state at a stream
 * version, in process or in Redis (version-checked writes in one Lua script, so an event applied twice
 * has no effect and a lost account is reloaded), kept current by `HotProjector` and read by
 * `CallAuthorizer`, which runs the same decider the `StartCall` append will.
 */
export {
  type AuthorizationDecision,
  CallAuthorizer,
  type CallAuthorizerOptions,
  type UnavailablePolicy,
} from './authorizer.ts';
export {
  type AccountLoader,
  type AllAccountsLoader,
  HOT_PROJECTOR_FOLLOWER_NAME,
  HotProjector,
  type HotProjectorOptions,
  loaderFrom,
} from './projector.ts';
export {
  type HotAccount,
  type HotApplyResult,
  type HotStore,
  type HotUpdate,
  MemoryHotStore,
  RedisHotStore,
} from './store.ts';
