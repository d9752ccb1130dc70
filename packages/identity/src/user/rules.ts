/** The settings the user decider applies, given once to `createUserDecider` (from configuration). */
export interface UserRules {
  readonly lockout: {
    /** Failed attempts (passwords and second-factor codes alike) within the window that lock the user. */
    readonly failuresMax: number;
    readonly windowSeconds: number;
    /** How long a lock lasts; it lifts by itself afterwards, or earlier by an administrator. */
    readonly durationSeconds: number;
  };
  /** Lifetime of each refresh token; a refresh issues a new one (sliding, up to the session's end). */
  readonly refreshTokenSeconds: number;
  /** A session's absolute lifetime, however often it is refreshed. */
  readonly sessionLifetimeSeconds: number;
  /** Open sessions per user; a new login beyond it revokes the oldest. */
  readonly sessionsOpenMax: number;
  /** How long a started MFA setup waits for its confirming code. */
  readonly mfaSetupSeconds: number;
}

export const LOCKOUT_FAILURES_MAX_DEFAULT = 5;
export const LOCKOUT_WINDOW_SECONDS_DEFAULT = 15 * 60;
export const LOCKOUT_DURATION_SECONDS_DEFAULT = 15 * 60;
export const REFRESH_TOKEN_SECONDS_DEFAULT = 7 * 86_400;
export const SESSION_LIFETIME_SECONDS_DEFAULT = 30 * 86_400;
export const SESSIONS_OPEN_MAX_DEFAULT = 20;
export const MFA_SETUP_SECONDS_DEFAULT = 15 * 60;
/** Failed attempts remembered between resets: far above any sane lockout threshold. */
export const FAILURES_REMEMBERED_MAX = 100;

export const DEFAULT_USER_RULES: UserRules = {
  lockout: {
    failuresMax: LOCKOUT_FAILURES_MAX_DEFAULT,
    windowSeconds: LOCKOUT_WINDOW_SECONDS_DEFAULT,
    durationSeconds: LOCKOUT_DURATION_SECONDS_DEFAULT,
  },
  refreshTokenSeconds: REFRESH_TOKEN_SECONDS_DEFAULT,
  sessionLifetimeSeconds: SESSION_LIFETIME_SECONDS_DEFAULT,
  sessionsOpenMax: SESSIONS_OPEN_MAX_DEFAULT,
  mfaSetupSeconds: MFA_SETUP_SECONDS_DEFAULT,
};

export function userRules(
  overrides: Partial<Omit<UserRules, 'lockout'>> & {
    readonly lockout?: Partial<UserRules['lockout']>;
  } = {},
): UserRules {
  const rules: UserRules = {
    ...DEFAULT_USER_RULES,
    ...overrides,
    lockout: { ...DEFAULT_USER_RULES.lockout, ...overrides.lockout },
  };
  if (!(rules.lockout.failuresMax >= 1 && rules.lockout.failuresMax <= FAILURES_REMEMBERED_MAX)) {
    throw new RangeError(`lockout.failuresMax must be from 1 to ${FAILURES_REMEMBERED_MAX}`);
  }
  for (const [name, seconds] of [
    ['lockout.windowSeconds', rules.lockout.windowSeconds],
    ['lockout.durationSeconds', rules.lockout.durationSeconds],
    ['refreshTokenSeconds', rules.refreshTokenSeconds],
    ['sessionLifetimeSeconds', rules.sessionLifetimeSeconds],
    ['mfaSetupSeconds', rules.mfaSetupSeconds],
  ] as const) {
    if (!(Number.isInteger(seconds) && seconds > 0)) throw new RangeError(`${name} must be a positive whole number`);
  }
  if (!(Number.isInteger(rules.sessionsOpenMax) && rules.sessionsOpenMax >= 1)) {
    throw new RangeError('sessionsOpenMax must be at least 1');
  }
  return rules;
}
