/**
 * @khata/identity — users, passwords, tokens, MFA, sessions and lockout (SPEC §12), as a library the
 * API's auth routes call through the `Identity` facade.
 *
 * Users are event-sourced: one stream per user (`user-<uuid>`), which is also that user's security log;
 * a registry stream per normalized e-mail address (`email-<sha256>`) keeps addresses unique. The
 * decider in `user/` is pure (`decide(command, state, now)`); hashing, signing and TOTP happen around
 * it and hand it their verdicts.
 *
 * Invariants:
 * - passwords are stored only as scrypt strings naming their costs; refresh tokens and recovery codes
 *   only as SHA-256 hashes; TOTP secrets only encrypted (AES-256-GCM, bound to the user);
 * - an unknown e-mail address and a wrong password get the same answer after the same scrypt work;
 * - access tokens are EdDSA JWTs verified with the algorithm pinned, and honoured only while their
 *   session is open; refresh tokens rotate on every use, and a reused one revokes its session;
 * - time comes from the injected clock only.
 */
export { type DeviceInput, deviceFingerprint, ipPrefix } from './device.ts';
export { EMAIL_CLAIM_GRACE_SECONDS, EmailRegistry, emailStream } from './email-registry.ts';
export {
  type CreateUserInput,
  Identity,
  type IdentityOptions,
  type LoginResult,
  type Outcome,
  type RegisterInput,
  SECURITY_EVENTS_PAGE_MAX,
  type SecurityEvent,
  type SessionView,
  type TokenPair,
  UNKNOWN_EMAILS_TRACKED_MAX,
  type UserSummary,
} from './identity.ts';
export {
  KEY_RELOAD_INTERVAL_SECONDS,
  type KeyStatus,
  SIGNING_ALGORITHM,
  SigningKeys,
  type SigningKeysOptions,
} from './keys.ts';
export {
  checkPasswordPolicy,
  PASSWORD_LENGTH_MAX,
  PASSWORD_LENGTH_MIN,
  PASSWORD_SCORE_MIN,
  PASSWORD_SCRYPT_COST,
  PasswordHasher,
  type ScryptCost,
} from './passwords.ts';
export {
  generateRecoveryCodes,
  hashRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODES_PER_SET,
} from './recovery-codes.ts';
export { SecretBox } from './secret-box.ts';
export { DEFAULT_IDENTITY_SETTINGS, type IdentitySettings, identitySettingsFromConfig } from './settings.ts';
export {
  ACCEPTED_ALGORITHMS,
  ACCESS_TOKEN_SECONDS_DEFAULT,
  ACCESS_TOKEN_TYPE,
  CLOCK_TOLERANCE_SECONDS_DEFAULT,
  hashRefreshToken,
  type IssuedToken,
  MFA_CHALLENGE_SECONDS_DEFAULT,
  MFA_CHALLENGE_TOKEN_TYPE,
  newRefreshToken,
  type Principal,
  parseRefreshToken,
  TokenService,
  type TokenSettings,
} from './tokens.ts';
export {
  generateTotpSecret,
  TOTP_DIGITS,
  TOTP_PERIOD_SECONDS,
  TOTP_WINDOW_STEPS,
  totpCode,
  totpTimeStep,
  totpUri,
  verifyTotp,
} from './totp.ts';
export * from './user/index.ts';
export {
  CACHED_USERS_MAX,
  type LoadedUser,
  USER_APPEND_ATTEMPTS_MAX,
  USER_STREAM_PREFIX,
  type UserOutcome,
  UserRepository,
  userStream,
} from './user-store.ts';
