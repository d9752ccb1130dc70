/**
 * The user decider: `decide(command, state, now)` → events or a rejection. Pure: everything it knows
 * comes from the command (including what the handler verified: the password, the code's time step),
 * the state folded from the user's stream, `now`, and the rules given once to `createUserDecider`.
 *
 * Some commands fail *and* append: a wrong password is recorded (LoginFailed, perhaps AccountLocked)
 * and the caller is still told no; a refresh token presented twice revokes its session. The handler
 * reads those outcomes from the events (`failureOf`).
 */
import type { DeviceFingerprint, MfaProof, UserCommand, UserCommandOf, UserEvent } from '@khata/schemas';
import { normalizeEmail } from './email.ts';
import { type IdentityRejection, INVALID_CREDENTIALS, rejectIdentity } from './rejections.ts';
import type { UserRules } from './rules.ts';
import { evolveUser, initialUserState, isLocked, sessionEnded, type UserState } from './state.ts';

/** Events to append (possibly none: the command changes nothing) or a rejection. */
export type UserDecision = readonly UserEvent[] | IdentityRejection;

export interface UserDecider {
  decide(command: UserCommand, state: UserState, now: Date): UserDecision;
  evolve(state: UserState, event: UserEvent): UserState;
  initialState(): UserState;
}

export function createUserDecider(rules: UserRules): UserDecider {
  return {
    decide: (command, state, now) => decide(rules, command, state, now),
    evolve: evolveUser,
    initialState: initialUserState,
  };
}

const SECOND_MS = 1_000;

function decide(rules: UserRules, command: UserCommand, state: UserState, now: Date): UserDecision {
  if (command.type === 'RegisterUser') return register(command, state, now);
  if (state.status === 'unregistered' || state.profile === null) return rejectIdentity('UNKNOWN_USER', 'no such user');
  if (state.profile.userId !== command.userId) {
    throw new Error(`command for user ${command.userId} decided on the state of ${state.profile.userId}`);
  }
  switch (command.type) {
    case 'LogIn':
      return logIn(rules, command, state, now);
    case 'CompleteMfaLogin':
      return completeMfaLogin(rules, command, state, now);
    case 'RefreshSession':
      return refreshSession(rules, command, state, now);
    case 'RevokeSession': {
      const session = state.sessions.get(command.sessionId);
      if (session === undefined) return rejectIdentity('UNKNOWN_SESSION', 'no such session');
      if (sessionEnded(session, now.getTime())) return [];
      return [{ type: 'SessionRevoked', data: { sessionId: command.sessionId, reason: command.reason, at: iso(now) } }];
    }
    case 'ChangePassword':
      return changePassword(rules, command, state, now);
    case 'RehashPassword':
      return [
        { type: 'PasswordChanged', data: { passwordHash: command.passwordHash, reason: 'rehashed', at: iso(now) } },
      ];
    case 'StartMfaSetup':
      if (state.mfa.status === 'on') return rejectIdentity('MFA_ALREADY_ENABLED', 'MFA is already on');
      return [{ type: 'MfaSetupStarted', data: { secretCiphertext: command.secretCiphertext, at: iso(now) } }];
    case 'ConfirmMfa':
      return confirmMfa(rules, command, state, now);
    case 'DisableMfa':
      return withSecondFactor(rules, state, now, command.proof, 'mfa-disable', command.device, () => [
        { type: 'MfaDisabled', data: { by: 'user', reason: null, at: iso(now) } },
      ]);
    case 'ResetMfa':
      if (state.mfa.status === 'off') return rejectIdentity('MFA_NOT_ENABLED', 'MFA is not on');
      return [{ type: 'MfaDisabled', data: { by: 'admin', reason: command.reason, at: iso(now) } }];
    case 'RegenerateRecoveryCodes':
      return withSecondFactor(rules, state, now, command.proof, 'recovery-codes', command.device, (totpTimeStep) => [
        {
          type: 'RecoveryCodesIssued',
          data: { codeHashes: [...command.recoveryCodeHashes], totpTimeStep, at: iso(now) },
        },
      ]);
    case 'UnlockUser':
      if (!isLocked(state, now)) return rejectIdentity('NOT_LOCKED', 'the user is not locked');
      return [{ type: 'AccountUnlocked', data: { reason: command.reason, at: iso(now) } }];
  }
}

function register(command: UserCommandOf<'RegisterUser'>, state: UserState, now: Date): UserDecision {
  if (state.status !== 'unregistered') return rejectIdentity('USER_EXISTS', 'the user is already registered');
  if ((command.role === 'customer') !== (command.accountId !== null)) {
    return rejectIdentity(
      'INVALID_ROLE',
      command.role === 'customer' ? 'a customer must be linked to an account' : 'only customers belong to an account',
    );
  }
  return [
    {
      type: 'UserRegistered',
      data: {
        userId: command.userId,
        email: command.email.trim(),
        emailNormalized: normalizeEmail(command.email),
        name: command.name,
        phone: command.phone,
        role: command.role,
        accountId: command.accountId,
        passwordHash: command.passwordHash,
        registeredAt: iso(now),
      },
    },
  ];
}

function lockedRejection(state: UserState): IdentityRejection {
  return rejectIdentity('ACCOUNT_LOCKED', 'too many failed attempts: the user is locked for a while', {
    lockedUntil: state.lockedUntil,
  });
}

function logIn(rules: UserRules, command: UserCommandOf<'LogIn'>, state: UserState, now: Date): UserDecision {
  if (isLocked(state, now)) return lockedRejection(state);
  if (!command.passwordValid) {
    return failed(rules, state, now, { factor: 'password', reason: 'wrong-password', during: 'login' }, command.device);
  }
  if (state.mfa.status === 'on') {
    return rejectIdentity('MFA_REQUIRED', 'a second factor is required', {
      challengeEpoch: state.authenticationEpoch,
    });
  }
  return startSession(rules, state, now, command, { method: 'password', totpTimeStep: null }, []);
}

function completeMfaLogin(
  rules: UserRules,
  command: UserCommandOf<'CompleteMfaLogin'>,
  state: UserState,
  now: Date,
): UserDecision {
  if (isLocked(state, now)) return lockedRejection(state);
  if (state.mfa.status !== 'on') return rejectIdentity('MFA_NOT_ENABLED', 'MFA is not on');
  if (command.challengeEpoch !== state.authenticationEpoch) {
    return rejectIdentity('MFA_CHALLENGE_INVALID', 'the MFA challenge is no longer valid: log in again');
  }
  const checked = checkSecondFactor(state, command.proof);
  if (!checked.ok) return failed(rules, state, now, { ...checked.failure, during: 'login' }, command.device);
  const used = recoveryCodeUsed(state, checked, now);
  return startSession(rules, state, now, command, checked, used);
}

function startSession(
  rules: UserRules,
  state: UserState,
  now: Date,
  command: { readonly sessionId: string; readonly refreshTokenHash: string; readonly device: DeviceFingerprint },
  login: { readonly method: 'password' | 'totp' | 'recovery-code'; readonly totpTimeStep: number | null },
  before: readonly UserEvent[],
): UserDecision {
  if (state.sessions.has(command.sessionId)) throw new Error(`session id ${command.sessionId} is not new`);
  const at = iso(now);
  const open = [...state.sessions.values()]
    .filter((session) => !sessionEnded(session, now.getTime()))
    .sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const evicted = open.slice(0, Math.max(0, open.length - rules.sessionsOpenMax + 1));
  const endsAt = iso(new Date(now.getTime() + rules.sessionLifetimeSeconds * SECOND_MS));
  const refreshExpiresAt = iso(
    new Date(now.getTime() + Math.min(rules.refreshTokenSeconds, rules.sessionLifetimeSeconds) * SECOND_MS),
  );
  return [
    ...before,
    {
      type: 'LoginSucceeded',
      data: {
        sessionId: command.sessionId,
        method: login.method,
        totpTimeStep: login.totpTimeStep,
        device: command.device,
        at,
      },
    },
    ...evicted.map(
      (session): UserEvent => ({
        type: 'SessionRevoked',
        data: { sessionId: session.sessionId, reason: 'session-limit', at },
      }),
    ),
    {
      type: 'SessionStarted',
      data: {
        sessionId: command.sessionId,
        refreshTokenHash: command.refreshTokenHash,
        refreshExpiresAt,
        endsAt,
        device: command.device,
        at,
      },
    },
  ];
}

function refreshSession(
  rules: UserRules,
  command: UserCommandOf<'RefreshSession'>,
  state: UserState,
  now: Date,
): UserDecision {
  const session = state.sessions.get(command.sessionId);
  if (session === undefined) return rejectIdentity('INVALID_REFRESH_TOKEN', 'the refresh token is not valid');
  if (session.revokedAt !== null) return rejectIdentity('SESSION_REVOKED', 'the session was revoked: log in again');
  const at = iso(now);
  if (session.usedTokenHashes.includes(command.presentedTokenHash)) {
    // Only the session's holder ever had this token, and it was exchanged already: a copy is in other
    // hands (or the client raced itself). Either way neither copy can be trusted: end the family.
    return [
      {
        type: 'RefreshTokenReuseDetected',
        data: { sessionId: session.sessionId, tokenHash: command.presentedTokenHash, device: command.device, at },
      },
      { type: 'SessionRevoked', data: { sessionId: session.sessionId, reason: 'refresh-token-reuse', at } },
    ];
  }
  if (session.refreshTokenHash !== command.presentedTokenHash) {
    return rejectIdentity('INVALID_REFRESH_TOKEN', 'the refresh token is not valid');
  }
  if (sessionEnded(session, now.getTime()))
    return rejectIdentity('SESSION_EXPIRED', 'the session expired: log in again');
  const refreshExpiresMs = Math.min(now.getTime() + rules.refreshTokenSeconds * SECOND_MS, Date.parse(session.endsAt));
  return [
    {
      type: 'SessionRefreshed',
      data: {
        sessionId: session.sessionId,
        refreshTokenHash: command.refreshTokenHash,
        refreshExpiresAt: iso(new Date(refreshExpiresMs)),
        device: command.device,
        at,
      },
    },
  ];
}

function changePassword(
  rules: UserRules,
  command: UserCommandOf<'ChangePassword'>,
  state: UserState,
  now: Date,
): UserDecision {
  if (isLocked(state, now)) return lockedRejection(state);
  if (!command.currentPasswordValid) {
    return failed(
      rules,
      state,
      now,
      { factor: 'password', reason: 'wrong-password', during: 'password-change' },
      command.device,
    );
  }
  const at = iso(now);
  // Whoever else holds a session may be the reason the password is changing: they go.
  const others = [...state.sessions.values()].filter(
    (session) => session.sessionId !== command.keepSessionId && !sessionEnded(session, now.getTime()),
  );
  return [
    { type: 'PasswordChanged', data: { passwordHash: command.passwordHash, reason: 'changed', at } },
    ...others.map(
      (session): UserEvent => ({
        type: 'SessionRevoked',
        data: { sessionId: session.sessionId, reason: 'password-changed', at },
      }),
    ),
  ];
}

function confirmMfa(rules: UserRules, command: UserCommandOf<'ConfirmMfa'>, state: UserState, now: Date): UserDecision {
  if (state.mfa.status === 'on') return rejectIdentity('MFA_ALREADY_ENABLED', 'MFA is already on');
  if (state.mfa.status === 'off') return rejectIdentity('MFA_SETUP_NOT_STARTED', 'start the MFA setup first');
  if (now.getTime() >= Date.parse(state.mfa.startedAt) + rules.mfaSetupSeconds * SECOND_MS) {
    return rejectIdentity('MFA_SETUP_EXPIRED', 'the MFA setup expired: start it again');
  }
  // Not counted towards the lockout: the user holding this session was just given the secret, so a
  // wrong code here guesses nothing that is not already theirs.
  if (command.proof.kind !== 'totp' || command.proof.timeStep === null) {
    return rejectIdentity('INVALID_MFA_CODE', 'the code is not valid');
  }
  const at = iso(now);
  return [
    { type: 'MfaEnabled', data: { totpTimeStep: command.proof.timeStep, at } },
    { type: 'RecoveryCodesIssued', data: { codeHashes: [...command.recoveryCodeHashes], totpTimeStep: null, at } },
  ];
}

type SecondFactorCheck =
  | {
      readonly ok: true;
      readonly method: 'totp' | 'recovery-code';
      readonly totpTimeStep: number | null;
      readonly recoveryCodeHash: string | null;
    }
  | {
      readonly ok: false;
      readonly failure: {
        readonly factor: 'totp' | 'recovery-code';
        readonly reason: 'wrong-code' | 'code-already-used';
      };
    };

function checkSecondFactor(state: UserState, proof: MfaProof): SecondFactorCheck {
  switch (proof.kind) {
    case 'totp':
      if (proof.timeStep === null) return { ok: false, failure: { factor: 'totp', reason: 'wrong-code' } };
      // RFC 6238 §5.2: a code is good once; anything at or before the last accepted step is a replay.
      if (state.lastTotpTimeStep !== null && proof.timeStep <= state.lastTotpTimeStep) {
        return { ok: false, failure: { factor: 'totp', reason: 'code-already-used' } };
      }
      return { ok: true, method: 'totp', totpTimeStep: proof.timeStep, recoveryCodeHash: null };
    case 'recovery-code':
      if (!state.recoveryCodeHashes.includes(proof.codeHash)) {
        return { ok: false, failure: { factor: 'recovery-code', reason: 'wrong-code' } };
      }
      return { ok: true, method: 'recovery-code', totpTimeStep: null, recoveryCodeHash: proof.codeHash };
    case 'malformed':
      return { ok: false, failure: { factor: 'totp', reason: 'wrong-code' } };
  }
}

function recoveryCodeUsed(state: UserState, checked: SecondFactorCheck, now: Date): UserEvent[] {
  if (!checked.ok || checked.recoveryCodeHash === null) return [];
  const remaining = state.recoveryCodeHashes.length - 1;
  return [{ type: 'RecoveryCodeUsed', data: { codeHash: checked.recoveryCodeHash, remaining, at: iso(now) } }];
}

/** A sensitive change that needs a current second factor (TOTP or recovery code) from a signed-in user. */
function withSecondFactor(
  rules: UserRules,
  state: UserState,
  now: Date,
  proof: MfaProof,
  during: 'mfa-disable' | 'recovery-codes',
  device: DeviceFingerprint | null,
  then: (totpTimeStep: number | null) => UserEvent[],
): UserDecision {
  if (state.mfa.status !== 'on') return rejectIdentity('MFA_NOT_ENABLED', 'MFA is not on');
  if (isLocked(state, now)) return lockedRejection(state);
  const checked = checkSecondFactor(state, proof);
  if (!checked.ok) return failed(rules, state, now, { ...checked.failure, during }, device);
  return [...recoveryCodeUsed(state, checked, now), ...then(checked.totpTimeStep)];
}

/**
 * A failed attempt: recorded, and when it is the `failuresMax`-th within the window, the user is locked
 * for `durationSeconds`.
 */
function failed(
  rules: UserRules,
  state: UserState,
  now: Date,
  attempt: {
    readonly factor: 'password' | 'totp' | 'recovery-code';
    readonly reason: 'wrong-password' | 'wrong-code' | 'code-already-used';
    readonly during: 'login' | 'password-change' | 'mfa-disable' | 'recovery-codes';
  },
  device: DeviceFingerprint | null,
): UserEvent[] {
  const at = iso(now);
  const windowStartMs = now.getTime() - rules.lockout.windowSeconds * SECOND_MS;
  const failures = state.failures.filter((instant) => Date.parse(instant) > windowStartMs).length + 1;
  const events: UserEvent[] = [{ type: 'LoginFailed', data: { ...attempt, device, at } }];
  if (failures >= rules.lockout.failuresMax) {
    const until = iso(new Date(now.getTime() + rules.lockout.durationSeconds * SECOND_MS));
    events.push({ type: 'AccountLocked', data: { reason: 'too-many-failures', failures, until, at } });
  }
  return events;
}

/**
 * What an accepted decision means for the caller when it recorded a failure: a wrong credential, or a
 * refresh token that came back. Null when the command succeeded.
 */
export function failureOf(events: readonly UserEvent[]): IdentityRejection | null {
  for (const event of events) {
    if (event.type === 'LoginFailed') {
      return event.data.factor === 'password'
        ? INVALID_CREDENTIALS
        : rejectIdentity('INVALID_MFA_CODE', 'the code is not valid');
    }
    if (event.type === 'RefreshTokenReuseDetected') {
      return rejectIdentity('REFRESH_TOKEN_REUSED', 'the refresh token was already used: the session is revoked');
    }
  }
  return null;
}

function iso(date: Date): string {
  return date.toISOString();
}
