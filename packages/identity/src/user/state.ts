/**
 * The state of one user, folded from its stream. `evolve` is pure: it never mutates the state it is
 * given and never reads a clock (the times it keeps come from the events). Events that cannot follow
 * the state (a refresh of a session that never started) stop the replay: they mean a bug or tampering.
 */
import type { DeviceFingerprint, UserEvent, UserRole } from '@khata/schemas';
import { FAILURES_REMEMBERED_MAX } from './rules.ts';

/** Exchanged refresh tokens remembered per session, to recognise one coming back (≈ 10 days at 15 min). */
export const USED_REFRESH_TOKENS_REMEMBERED_MAX = 1_000;
/** Ended sessions kept for the session list; older ones are forgotten as new sessions start. */
export const ENDED_SESSIONS_KEPT_MAX = 20;

export interface Session {
  readonly sessionId: string;
  readonly startedAt: string;
  /** Absolute end of the session. */
  readonly endsAt: string;
  /** When the current refresh token expires. */
  readonly refreshExpiresAt: string;
  readonly lastRefreshedAt: string | null;
  /** The device that logged in. */
  readonly device: DeviceFingerprint;
  /** The device seen at the latest refresh (the same as `device` until a refresh says otherwise). */
  readonly lastDevice: DeviceFingerprint;
  /** SHA-256 of the refresh token that works now; null once revoked. */
  readonly refreshTokenHash: string | null;
  /** Hashes of the tokens this session exchanged already, newest last. */
  readonly usedTokenHashes: readonly string[];
  readonly revokedAt: string | null;
  readonly revokedReason: string | null;
}

export type MfaState =
  | { readonly status: 'off' }
  | { readonly status: 'pending'; readonly secretCiphertext: string; readonly startedAt: string }
  | { readonly status: 'on'; readonly secretCiphertext: string; readonly enabledAt: string };

export interface UserProfile {
  readonly userId: string;
  readonly email: string;
  readonly emailNormalized: string;
  readonly name: string;
  readonly phone: string | null;
  readonly role: UserRole;
  readonly accountId: string | null;
  readonly registeredAt: string;
}

export interface UserState {
  readonly status: 'unregistered' | 'active';
  readonly profile: UserProfile | null;
  readonly passwordHash: string | null;
  /** Instants of failed attempts since the last success, lock or unlock (newest last, bounded). */
  readonly failures: readonly string[];
  readonly lockedUntil: string | null;
  readonly mfa: MfaState;
  /** Hashes of the recovery codes not used yet. */
  readonly recoveryCodeHashes: readonly string[];
  /** The newest TOTP time step accepted: codes of that step or earlier are refused (no replay). */
  readonly lastTotpTimeStep: number | null;
  /**
   * Counts the events after which an outstanding MFA challenge must no longer be honoured: a
   * completed login, a password change, a lock, MFA turned on or off.
   */
  readonly authenticationEpoch: number;
  readonly sessions: ReadonlyMap<string, Session>;
}

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

export function initialUserState(): UserState {
  return {
    status: 'unregistered',
    profile: null,
    passwordHash: null,
    failures: [],
    lockedUntil: null,
    mfa: { status: 'off' },
    recoveryCodeHashes: [],
    lastTotpTimeStep: null,
    authenticationEpoch: 0,
    sessions: new Map(),
  };
}

/** Has the session ended (revoked, past its absolute end, or its refresh token expired) at `atMs`? */
export function sessionEnded(session: Session, atMs: number): boolean {
  return (
    session.revokedAt !== null || Date.parse(session.endsAt) <= atMs || Date.parse(session.refreshExpiresAt) <= atMs
  );
}

export function isLocked(state: UserState, now: Date): boolean {
  return state.lockedUntil !== null && now.getTime() < Date.parse(state.lockedUntil);
}

export function evolveUser(state: UserState, event: UserEvent): UserState {
  if (state.status === 'unregistered' && event.type !== 'UserRegistered') {
    throw new InvariantViolation(`${event.type} before UserRegistered`);
  }
  switch (event.type) {
    case 'UserRegistered': {
      if (state.status !== 'unregistered') throw new InvariantViolation('UserRegistered twice');
      const { passwordHash, ...profile } = event.data;
      return { ...state, status: 'active', profile, passwordHash };
    }
    case 'PasswordChanged':
      return {
        ...state,
        passwordHash: event.data.passwordHash,
        authenticationEpoch:
          event.data.reason === 'changed' ? state.authenticationEpoch + 1 : state.authenticationEpoch,
      };
    case 'LoginSucceeded':
      return {
        ...state,
        failures: [],
        lastTotpTimeStep: event.data.totpTimeStep ?? state.lastTotpTimeStep,
        authenticationEpoch: state.authenticationEpoch + 1,
      };
    case 'LoginFailed':
      return { ...state, failures: [...state.failures, event.data.at].slice(-FAILURES_REMEMBERED_MAX) };
    case 'AccountLocked':
      return {
        ...state,
        failures: [],
        lockedUntil: event.data.until,
        authenticationEpoch: state.authenticationEpoch + 1,
      };
    case 'AccountUnlocked':
      return { ...state, failures: [], lockedUntil: null };
    case 'MfaSetupStarted':
      if (state.mfa.status === 'on') throw new InvariantViolation('MfaSetupStarted while MFA is on');
      return {
        ...state,
        mfa: { status: 'pending', secretCiphertext: event.data.secretCiphertext, startedAt: event.data.at },
      };
    case 'MfaEnabled':
      if (state.mfa.status !== 'pending') throw new InvariantViolation('MfaEnabled without a pending setup');
      return {
        ...state,
        mfa: { status: 'on', secretCiphertext: state.mfa.secretCiphertext, enabledAt: event.data.at },
        lastTotpTimeStep: event.data.totpTimeStep,
        authenticationEpoch: state.authenticationEpoch + 1,
      };
    case 'MfaDisabled':
      return {
        ...state,
        mfa: { status: 'off' },
        recoveryCodeHashes: [],
        authenticationEpoch: state.authenticationEpoch + 1,
      };
    case 'RecoveryCodesIssued':
      return {
        ...state,
        recoveryCodeHashes: [...event.data.codeHashes],
        lastTotpTimeStep: event.data.totpTimeStep ?? state.lastTotpTimeStep,
      };
    case 'RecoveryCodeUsed': {
      if (!state.recoveryCodeHashes.includes(event.data.codeHash)) {
        throw new InvariantViolation('RecoveryCodeUsed for a code that is not outstanding');
      }
      return { ...state, recoveryCodeHashes: state.recoveryCodeHashes.filter((hash) => hash !== event.data.codeHash) };
    }
    case 'SessionStarted': {
      if (state.sessions.has(event.data.sessionId)) throw new InvariantViolation('SessionStarted twice');
      const { sessionId, at, endsAt, refreshExpiresAt, refreshTokenHash, device } = event.data;
      const sessions = pruneEnded(state.sessions, Date.parse(at));
      sessions.set(sessionId, {
        sessionId,
        startedAt: at,
        endsAt,
        refreshExpiresAt,
        lastRefreshedAt: null,
        device,
        lastDevice: device,
        refreshTokenHash,
        usedTokenHashes: [],
        revokedAt: null,
        revokedReason: null,
      });
      return { ...state, sessions };
    }
    case 'SessionRefreshed': {
      const session = openSession(state, event.data.sessionId, event.type);
      if (session.refreshTokenHash === null) throw new InvariantViolation('SessionRefreshed without a token');
      return withSession(state, {
        ...session,
        refreshTokenHash: event.data.refreshTokenHash,
        refreshExpiresAt: event.data.refreshExpiresAt,
        lastRefreshedAt: event.data.at,
        lastDevice: event.data.device ?? session.lastDevice,
        usedTokenHashes: [...session.usedTokenHashes, session.refreshTokenHash].slice(
          -USED_REFRESH_TOKENS_REMEMBERED_MAX,
        ),
      });
    }
    case 'SessionRevoked': {
      const session = openSession(state, event.data.sessionId, event.type);
      // A revoked session answers every token with SESSION_REVOKED: its hashes are no longer needed.
      return withSession(state, {
        ...session,
        refreshTokenHash: null,
        usedTokenHashes: [],
        revokedAt: event.data.at,
        revokedReason: event.data.reason,
      });
    }
    case 'RefreshTokenReuseDetected':
      openSession(state, event.data.sessionId, event.type);
      return state;
  }
}

function openSession(state: UserState, sessionId: string, eventType: string): Session {
  const session = state.sessions.get(sessionId);
  if (session === undefined) throw new InvariantViolation(`${eventType} for unknown session ${sessionId}`);
  if (session.revokedAt !== null) throw new InvariantViolation(`${eventType} for revoked session ${sessionId}`);
  return session;
}

function withSession(state: UserState, session: Session): UserState {
  const sessions = new Map(state.sessions);
  sessions.set(session.sessionId, session);
  return { ...state, sessions };
}

/** A copy of `sessions` keeping every open session and only the newest ended ones. */
function pruneEnded(sessions: ReadonlyMap<string, Session>, atMs: number): Map<string, Session> {
  const ended = [...sessions.values()].filter((session) => sessionEnded(session, atMs));
  const forget = new Set(
    ended
      .sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt))
      .slice(0, Math.max(0, ended.length - ENDED_SESSIONS_KEPT_MAX))
      .map((session) => session.sessionId),
  );
  return new Map([...sessions].filter(([sessionId]) => !forget.has(sessionId)));
}
