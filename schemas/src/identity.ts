/**
 * Users (SPEC §12): the commands and events of a user stream (`user-<uuid>`) and of the e-mail registry
 * (`email-<sha256 of the normalized address>`), which keeps one user per address across all streams.
 *
 * The user stream is also the security log: logins, failures, lockouts, MFA changes, sessions and
 * refresh-token reuse are its events. Secrets never appear in clear: passwords as scrypt strings,
 * refresh tokens and recovery codes as SHA-256 hashes, the TOTP secret encrypted.
 *
 * Commands carry what the command handler verified (is the password right, which TOTP time step did
 * the code match): hashing is I/O-free but slow and keyed, so the pure decider gets the results, not
 * the secrets.
 */
import Type, { type Static } from 'typebox';
import { Instant, Text, Uuid } from './common.ts';

export const UserRole = Type.Union(
  [
    Type.Literal('customer'),
    Type.Literal('admin'),
    Type.Literal('auditor'),
    Type.Literal('finance'),
    Type.Literal('system'),
  ],
  { description: 'RBAC role (SPEC §12)' },
);
export type UserRole = Static<typeof UserRole>;

export const UserEmail = Type.String({ format: 'email', maxLength: 254 });
export const UserPhone = Type.Union([Type.String({ pattern: '^\\+?[0-9 -]{6,20}$' }), Type.Null()]);
const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, lower-case hex' });
/** A self-describing password hash: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (base64, no padding). */
export const PasswordHashString = Type.String({
  pattern: '^\\$scrypt\\$ln=\\d{1,2},r=\\d{1,2},p=\\d{1,2}\\$[A-Za-z0-9+/]{16,88}\\$[A-Za-z0-9+/]{16,88}$',
});
/** AES-256-GCM ciphertext of the TOTP secret, bound to its user (see the identity package's secret box). */
const SecretCiphertext = Type.String({ minLength: 1, maxLength: 512 });
const TimeStep = Type.Integer({ minimum: 0, description: 'RFC 6238 time step the code matched' });

/** Where a session or an attempt came from: enough to recognise a device, not to track a person. */
export const DeviceFingerprint = Type.Object(
  {
    userAgent: Type.String({ maxLength: 512 }),
    /** The client address cut to its network: IPv4 /24 (`203.0.113.0/24`), IPv6 /48 (`2001:db8:1::/48`). */
    ipPrefix: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    /** An id the client keeps for itself (a cookie, an app install id), if it sends one. */
    clientDeviceId: Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type DeviceFingerprint = Static<typeof DeviceFingerprint>;

/** What the handler found when it checked a second-factor code. */
export const MfaProof = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('totp'),
      /** The time step the code matched within the allowed window; null: it matched none. */
      timeStep: Type.Union([TimeStep, Type.Null()]),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('recovery-code'), codeHash: Sha256Hex }, { additionalProperties: false }),
  /** Neither a six-digit code nor the shape of a recovery code. */
  Type.Object({ kind: Type.Literal('malformed') }, { additionalProperties: false }),
]);
export type MfaProof = Static<typeof MfaProof>;

const RecoveryCodeHashes = Type.Array(Sha256Hex, { minItems: 1, maxItems: 20, uniqueItems: true });

// --- commands ------------------------------------------------------------------------------------

const userCommand = <Name extends string, Fields extends Parameters<typeof Type.Object>[0]>(
  type: Name,
  fields: Fields,
) =>
  Type.Object(
    { type: Type.Literal(type), commandId: Uuid, userId: Uuid, ...fields },
    { additionalProperties: false, $id: `https://khata.dev/schemas/commands/${type}.json`, title: type },
  );

export const RegisterUser = userCommand('RegisterUser', {
  email: UserEmail,
  name: Text(120),
  phone: UserPhone,
  role: UserRole,
  /** The customer's account; null for staff roles. */
  accountId: Type.Union([Uuid, Type.Null()]),
  passwordHash: PasswordHashString,
});

export const LogIn = userCommand('LogIn', {
  passwordValid: Type.Boolean(),
  sessionId: Uuid,
  refreshTokenHash: Sha256Hex,
  device: DeviceFingerprint,
});

export const CompleteMfaLogin = userCommand('CompleteMfaLogin', {
  /** The user's authentication epoch when the challenge was issued: a later login or change voids it. */
  challengeEpoch: Type.Integer({ minimum: 0 }),
  proof: MfaProof,
  sessionId: Uuid,
  refreshTokenHash: Sha256Hex,
  device: DeviceFingerprint,
});

export const RefreshSession = userCommand('RefreshSession', {
  sessionId: Uuid,
  presentedTokenHash: Sha256Hex,
  refreshTokenHash: Sha256Hex,
  device: Type.Union([DeviceFingerprint, Type.Null()]),
});

export const RevokeSession = userCommand('RevokeSession', {
  sessionId: Uuid,
  reason: Type.Union([Type.Literal('logout'), Type.Literal('revoked')]),
});

export const ChangePassword = userCommand('ChangePassword', {
  currentPasswordValid: Type.Boolean(),
  passwordHash: PasswordHashString,
  /** The session the change was made from stays open; every other session is revoked. */
  keepSessionId: Type.Union([Uuid, Type.Null()]),
  device: Type.Union([DeviceFingerprint, Type.Null()]),
});

/** The same password hashed again with the current (higher) costs, after a successful login. */
export const RehashPassword = userCommand('RehashPassword', { passwordHash: PasswordHashString });

export const StartMfaSetup = userCommand('StartMfaSetup', { secretCiphertext: SecretCiphertext });

export const ConfirmMfa = userCommand('ConfirmMfa', {
  proof: MfaProof,
  recoveryCodeHashes: RecoveryCodeHashes,
});

export const DisableMfa = userCommand('DisableMfa', {
  proof: MfaProof,
  device: Type.Union([DeviceFingerprint, Type.Null()]),
});

/** An administrator turns MFA off for a user who lost the device and the recovery codes. */
export const ResetMfa = userCommand('ResetMfa', { reason: Text(500) });

export const RegenerateRecoveryCodes = userCommand('RegenerateRecoveryCodes', {
  proof: MfaProof,
  recoveryCodeHashes: RecoveryCodeHashes,
  device: Type.Union([DeviceFingerprint, Type.Null()]),
});

export const UnlockUser = userCommand('UnlockUser', { reason: Text(500) });

export const userCommandSchemas = [
  RegisterUser,
  LogIn,
  CompleteMfaLogin,
  RefreshSession,
  RevokeSession,
  ChangePassword,
  RehashPassword,
  StartMfaSetup,
  ConfirmMfa,
  DisableMfa,
  ResetMfa,
  RegenerateRecoveryCodes,
  UnlockUser,
] as const;

export const UserCommand = Type.Union([...userCommandSchemas], {
  $id: 'https://khata.dev/schemas/commands/UserCommand.json',
  title: 'UserCommand',
});
export type UserCommand = Static<typeof UserCommand>;
export type UserCommandType = UserCommand['type'];
export type UserCommandOf<T extends UserCommandType> = Extract<UserCommand, { type: T }>;

// --- events --------------------------------------------------------------------------------------

const userEventData = <Fields extends Parameters<typeof Type.Object>[0]>(type: string, fields: Fields) =>
  Type.Object(fields, {
    additionalProperties: false,
    $id: `https://khata.dev/schemas/events/${type}.v1.json`,
    title: `${type} v1`,
  });

export const UserRegistered = userEventData('UserRegistered', {
  userId: Uuid,
  /** As the user typed it (trimmed), for display. */
  email: UserEmail,
  /** The address the registry is keyed on: NFKC, lower case. */
  emailNormalized: UserEmail,
  name: Text(120),
  phone: UserPhone,
  role: UserRole,
  accountId: Type.Union([Uuid, Type.Null()]),
  passwordHash: PasswordHashString,
  registeredAt: Instant,
});

export const PasswordChanged = userEventData('PasswordChanged', {
  passwordHash: PasswordHashString,
  reason: Type.Union([Type.Literal('changed'), Type.Literal('rehashed')]),
  at: Instant,
});

export const LoginSucceeded = userEventData('LoginSucceeded', {
  sessionId: Uuid,
  method: Type.Union([Type.Literal('password'), Type.Literal('totp'), Type.Literal('recovery-code')]),
  /** The TOTP time step used (codes of this step or earlier are refused from now on). */
  totpTimeStep: Type.Union([TimeStep, Type.Null()]),
  device: DeviceFingerprint,
  at: Instant,
});

/** A wrong password or second-factor code: at login, or when re-authenticating for a sensitive change. */
export const LoginFailed = userEventData('LoginFailed', {
  factor: Type.Union([Type.Literal('password'), Type.Literal('totp'), Type.Literal('recovery-code')]),
  reason: Type.Union([Type.Literal('wrong-password'), Type.Literal('wrong-code'), Type.Literal('code-already-used')]),
  during: Type.Union([
    Type.Literal('login'),
    Type.Literal('password-change'),
    Type.Literal('mfa-disable'),
    Type.Literal('recovery-codes'),
  ]),
  device: Type.Union([DeviceFingerprint, Type.Null()]),
  at: Instant,
});

export const AccountLocked = userEventData('AccountLocked', {
  reason: Type.Literal('too-many-failures'),
  /** Failures within the window that tripped the lock. */
  failures: Type.Integer({ minimum: 1 }),
  until: Instant,
  at: Instant,
});

export const AccountUnlocked = userEventData('AccountUnlocked', { reason: Text(500), at: Instant });

export const MfaSetupStarted = userEventData('MfaSetupStarted', { secretCiphertext: SecretCiphertext, at: Instant });

export const MfaEnabled = userEventData('MfaEnabled', { totpTimeStep: TimeStep, at: Instant });

export const MfaDisabled = userEventData('MfaDisabled', {
  by: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  reason: Type.Union([Text(500), Type.Null()]),
  at: Instant,
});

export const RecoveryCodesIssued = userEventData('RecoveryCodesIssued', {
  codeHashes: RecoveryCodeHashes,
  /** The TOTP time step of the code that authorised a new set (null: issued with MFA, or by recovery code). */
  totpTimeStep: Type.Union([TimeStep, Type.Null()]),
  at: Instant,
});

export const RecoveryCodeUsed = userEventData('RecoveryCodeUsed', {
  codeHash: Sha256Hex,
  remaining: Type.Integer({ minimum: 0 }),
  at: Instant,
});

export const SessionStarted = userEventData('SessionStarted', {
  sessionId: Uuid,
  refreshTokenHash: Sha256Hex,
  /** When the current refresh token stops working (each refresh moves it, up to `endsAt`). */
  refreshExpiresAt: Instant,
  /** The session's absolute end, however often it is refreshed. */
  endsAt: Instant,
  device: DeviceFingerprint,
  at: Instant,
});

export const SessionRefreshed = userEventData('SessionRefreshed', {
  sessionId: Uuid,
  refreshTokenHash: Sha256Hex,
  refreshExpiresAt: Instant,
  device: Type.Union([DeviceFingerprint, Type.Null()]),
  at: Instant,
});

export const SessionRevoked = userEventData('SessionRevoked', {
  sessionId: Uuid,
  reason: Type.Union([
    Type.Literal('logout'),
    Type.Literal('revoked'),
    Type.Literal('refresh-token-reuse'),
    Type.Literal('password-changed'),
    Type.Literal('session-limit'),
  ]),
  at: Instant,
});

/** A refresh token that was already exchanged came back: someone holds a copy. The session is revoked. */
export const RefreshTokenReuseDetected = userEventData('RefreshTokenReuseDetected', {
  sessionId: Uuid,
  tokenHash: Sha256Hex,
  device: Type.Union([DeviceFingerprint, Type.Null()]),
  at: Instant,
});

export const userEventSchemas = {
  UserRegistered,
  PasswordChanged,
  LoginSucceeded,
  LoginFailed,
  AccountLocked,
  AccountUnlocked,
  MfaSetupStarted,
  MfaEnabled,
  MfaDisabled,
  RecoveryCodesIssued,
  RecoveryCodeUsed,
  SessionStarted,
  SessionRefreshed,
  SessionRevoked,
  RefreshTokenReuseDetected,
} as const;

export type UserEventType = keyof typeof userEventSchemas;

/** The current `schemaVersion` of each user event type. */
export const CURRENT_USER_EVENT_VERSION: { readonly [K in UserEventType]: number } = {
  UserRegistered: 1,
  PasswordChanged: 1,
  LoginSucceeded: 1,
  LoginFailed: 1,
  AccountLocked: 1,
  AccountUnlocked: 1,
  MfaSetupStarted: 1,
  MfaEnabled: 1,
  MfaDisabled: 1,
  RecoveryCodesIssued: 1,
  RecoveryCodeUsed: 1,
  SessionStarted: 1,
  SessionRefreshed: 1,
  SessionRevoked: 1,
  RefreshTokenReuseDetected: 1,
};

export type UserEvent = {
  [K in UserEventType]: { readonly type: K; readonly data: Static<(typeof userEventSchemas)[K]> };
}[UserEventType];
export type UserEventOf<T extends UserEventType> = Extract<UserEvent, { type: T }>;

// --- e-mail registry -----------------------------------------------------------------------------

/** The address (whose hash names the stream) now belongs to this user. */
export const EmailClaimed = userEventData('EmailClaimed', { userId: Uuid });
/** The claim was given back (the registration it was made for did not go through). */
export const EmailReleased = userEventData('EmailReleased', { userId: Uuid });

export type EmailRegistryEvent =
  | { readonly type: 'EmailClaimed'; readonly data: Static<typeof EmailClaimed> }
  | { readonly type: 'EmailReleased'; readonly data: Static<typeof EmailReleased> };
