export { type AccountDecider, createAccountDecider } from './decide.ts';
export { availableCredit, type Decided, type Decision, todayOf } from './decision.ts';
export { isRejection, REJECTION_CODES, type Rejection, type RejectionCode, reject } from './rejections.ts';
export {
  type AccountRules,
  type AddOnTerms,
  accountRules,
  BACKDATE_DAYS_MAX_DEFAULT,
  CALL_SECONDS_MAX_DEFAULT,
  OVERAGE_DECIMALS,
  PLAN_DESTINATION_PREFIXES_DEFAULT,
  type PlanTerms,
  RENEWAL_PERIODS_MAX,
  RESERVATION_GRACE_SECONDS_DEFAULT,
  type RulesSettings,
} from './rules.ts';
export { STATE_SNAPSHOT_VERSION, stateFromJson, stateToJson } from './snapshot.ts';
export {
  type AccountState,
  type AccountStatus,
  type BillingMode,
  evolve,
  InvariantViolation,
  initialState,
  type Profile,
  type Reservation,
  type Subscription,
  type UsageMonth,
} from './state.ts';
export { isAccountEventType, type StoredEvent, UnknownEventVersion, upcastAccountEvent } from './upcast.ts';
