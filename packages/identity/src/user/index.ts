export { createUserDecider, failureOf, type UserDecider, type UserDecision } from './decide.ts';
export { normalizeEmail } from './email.ts';
export {
  IDENTITY_REJECTION_CODES,
  type IdentityRejection,
  type IdentityRejectionCode,
  INVALID_CREDENTIALS,
  isIdentityRejection,
  rejectIdentity,
} from './rejections.ts';
export {
  DEFAULT_USER_RULES,
  FAILURES_REMEMBERED_MAX,
  LOCKOUT_DURATION_SECONDS_DEFAULT,
  LOCKOUT_FAILURES_MAX_DEFAULT,
  LOCKOUT_WINDOW_SECONDS_DEFAULT,
  MFA_SETUP_SECONDS_DEFAULT,
  REFRESH_TOKEN_SECONDS_DEFAULT,
  SESSION_LIFETIME_SECONDS_DEFAULT,
  SESSIONS_OPEN_MAX_DEFAULT,
  type UserRules,
  userRules,
} from './rules.ts';
export {
  ENDED_SESSIONS_KEPT_MAX,
  evolveUser,
  InvariantViolation,
  initialUserState,
  isLocked,
  type MfaState,
  type Session,
  sessionEnded,
  USED_REFRESH_TOKENS_REMEMBERED_MAX,
  type UserProfile,
  type UserState,
} from './state.ts';
