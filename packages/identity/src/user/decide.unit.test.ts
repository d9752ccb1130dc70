import {
  createValidator,
  type DeviceFingerprint,
  type MfaProof,
  type UserCommand,
  type UserEvent,
  userEventSchemas,
} from '@khata/schemas';
import { describe, expect, it } from 'vitest';
import { createUserDecider, failureOf } from './decide.ts';
import { type IdentityRejection, isIdentityRejection } from './rejections.ts';
import { userRules } from './rules.ts';
import type { UserState } from './state.ts';

const T0 = '2026-11-02T04:30:00.000Z';
const USER = '6f1c2f0e-8d1a-4c1e-9c2b-3f4a5b6c7d8e';
const ACCOUNT = '0b8e6a52-52a3-4f0a-8f7e-2c9d1e3f4a5b';
const HASH = `$scrypt$ln=10,r=8,p=1$${'A'.repeat(22)}$${'B'.repeat(43)}`;
const DEVICE: DeviceFingerprint = { userAgent: 'test', ipPrefix: '203.0.113.0/24', clientDeviceId: null };
const sha = (character: string) => character.repeat(64);
let counter = 0;
const uuid = () => {
  counter += 1;
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, '0')}`;
};

/** A user command without the ids the scenario fills in (Omit distributed over the union). */
type CommandInput = DistributiveInput<UserCommand>;
type DistributiveInput<C> = C extends unknown ? Omit<C, 'commandId' | 'userId'> : never;

const rules = userRules();
const decider = createUserDecider(rules);
const validators = Object.fromEntries(
  Object.entries(userEventSchemas).map(([type, schema]) => [type, createValidator(schema)]),
);

/** Given-when-then over the pure decider; every event decided is checked against its schema. */
class Scenario {
  state: UserState = decider.initialState();
  history: UserEvent[] = [];

  run(command: CommandInput, at: string): readonly UserEvent[] {
    const decision = this.attempt(command, at);
    if (isIdentityRejection(decision)) throw new Error(`rejected: ${decision.code}`);
    return decision;
  }

  attempt(command: CommandInput, at: string): readonly UserEvent[] | IdentityRejection {
    const decision = decider.decide(
      { ...command, commandId: uuid(), userId: USER } as UserCommand,
      this.state,
      new Date(at),
    );
    if (isIdentityRejection(decision)) return decision;
    for (const event of decision) {
      const checked = validators[event.type]?.(event.data);
      expect(checked?.ok, `${event.type} matches its schema`).toBe(true);
      this.state = decider.evolve(this.state, event);
      this.history.push(event);
    }
    return decision;
  }
}

const types = (events: readonly UserEvent[] | IdentityRejection) =>
  isIdentityRejection(events) ? events.code : events.map((event) => event.type);
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1_000).toISOString();

function registered(): Scenario {
  const s = new Scenario();
  s.run(
    {
      type: 'RegisterUser',
      email: ' Asha@Example.COM ',
      name: 'Asha',
      phone: null,
      role: 'customer',
      accountId: ACCOUNT,
      passwordHash: HASH,
    },
    T0,
  );
  return s;
}

const logIn = (passwordValid: boolean, sessionId = uuid(), tokenHash = sha('a')) =>
  ({ type: 'LogIn', passwordValid, sessionId, refreshTokenHash: tokenHash, device: DEVICE }) as const;

describe('registering', () => {
  it('records the user with the address as typed and normalized', () => {
    const s = registered();
    expect(s.history[0]).toMatchObject({
      type: 'UserRegistered',
      data: { email: 'Asha@Example.COM', emailNormalized: 'asha@example.com', role: 'customer', accountId: ACCOUNT },
    });
    expect(s.state.status).toBe('active');
  });

  it('refuses a second registration, a customer without an account and staff with one', () => {
    const s = registered();
    const base = { type: 'RegisterUser', email: 'a@example.com', name: 'A', phone: null, passwordHash: HASH } as const;
    expect(s.attempt({ ...base, role: 'customer', accountId: ACCOUNT }, T0)).toMatchObject({ code: 'USER_EXISTS' });
    const fresh = new Scenario();
    expect(fresh.attempt({ ...base, role: 'customer', accountId: null }, T0)).toMatchObject({ code: 'INVALID_ROLE' });
    expect(fresh.attempt({ ...base, role: 'admin', accountId: ACCOUNT }, T0)).toMatchObject({ code: 'INVALID_ROLE' });
    expect(fresh.attempt({ ...base, role: 'auditor', accountId: null }, T0)).not.toHaveProperty('code');
  });

  it('knows no user before registration', () => {
    expect(new Scenario().attempt(logIn(true), T0)).toMatchObject({ code: 'UNKNOWN_USER' });
  });
});

describe('lockout', () => {
  it('locks on the fifth failure within fifteen minutes, and the caller hears INVALID_CREDENTIALS', () => {
    const s = registered();
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      expect(types(s.run(logIn(false), at(attempt * 60)))).toEqual(['LoginFailed']);
    }
    const fifth = s.run(logIn(false), at(5 * 60));
    expect(types(fifth)).toEqual(['LoginFailed', 'AccountLocked']);
    expect(fifth[1]?.data).toMatchObject({ failures: 5, until: at(5 * 60 + 15 * 60) });
    expect(failureOf(fifth)).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    // Locked: even the right password is refused, and nothing is appended.
    expect(s.attempt(logIn(true), at(6 * 60))).toMatchObject({
      code: 'ACCOUNT_LOCKED',
      details: { lockedUntil: at(20 * 60) },
    });
    expect(s.history).toHaveLength(1 + 4 + 2);
  });

  it('lifts the lock by itself when it expires, with a fresh count of failures', () => {
    const s = registered();
    for (let attempt = 1; attempt <= 5; attempt += 1) s.run(logIn(false), at(attempt));
    expect(s.attempt(logIn(true), at(5 + 15 * 60 - 1))).toMatchObject({ code: 'ACCOUNT_LOCKED' });
    expect(types(s.run(logIn(false), at(5 + 15 * 60)))).toEqual(['LoginFailed']);
    expect(types(s.run(logIn(true), at(5 + 15 * 60 + 1)))).toEqual(['LoginSucceeded', 'SessionStarted']);
  });

  it('does not count failures older than the window', () => {
    const s = registered();
    for (let attempt = 0; attempt < 4; attempt += 1) s.run(logIn(false), at(attempt));
    // The first four fall out of the window 15 minutes later: the fifth failure finds only itself.
    expect(types(s.run(logIn(false), at(15 * 60 + 1)))).toEqual(['LoginFailed']);
  });

  it('forgets failures after a successful login', () => {
    const s = registered();
    for (let attempt = 0; attempt < 4; attempt += 1) s.run(logIn(false), at(attempt));
    s.run(logIn(true), at(10));
    expect(types(s.run(logIn(false), at(11)))).toEqual(['LoginFailed']);
  });

  it('follows the configured threshold, window and duration', () => {
    const strict = createUserDecider(
      userRules({ lockout: { failuresMax: 2, windowSeconds: 60, durationSeconds: 30 } }),
    );
    let state = registered().state;
    const fail = (seconds: number) => {
      const decision = strict.decide(
        { ...logIn(false), commandId: uuid(), userId: USER },
        state,
        new Date(at(seconds)),
      );
      if (isIdentityRejection(decision)) return decision.code;
      for (const event of decision) state = strict.evolve(state, event);
      return decision.map((event) => event.type);
    };
    expect(fail(0)).toEqual(['LoginFailed']);
    expect(fail(10)).toEqual(['LoginFailed', 'AccountLocked']);
    expect(fail(39)).toBe('ACCOUNT_LOCKED');
    expect(fail(40)).toEqual(['LoginFailed']);
  });

  it('unlocks on an administrator command, and refuses to unlock a user who is not locked', () => {
    const s = registered();
    expect(s.attempt({ type: 'UnlockUser', reason: 'called support' }, T0)).toMatchObject({ code: 'NOT_LOCKED' });
    for (let attempt = 1; attempt <= 5; attempt += 1) s.run(logIn(false), at(attempt));
    expect(types(s.run({ type: 'UnlockUser', reason: 'called support' }, at(10)))).toEqual(['AccountUnlocked']);
    expect(types(s.run(logIn(true), at(11)))).toEqual(['LoginSucceeded', 'SessionStarted']);
  });
});

function withMfa(): Scenario {
  const s = registered();
  s.run({ type: 'StartMfaSetup', secretCiphertext: 'sealed' }, T0);
  s.run({ type: 'ConfirmMfa', proof: { kind: 'totp', timeStep: 100 }, recoveryCodeHashes: [sha('1'), sha('2')] }, T0);
  return s;
}

const completeMfa = (proof: MfaProof, epoch: number) =>
  ({
    type: 'CompleteMfaLogin',
    challengeEpoch: epoch,
    proof,
    sessionId: uuid(),
    refreshTokenHash: sha('c'),
    device: DEVICE,
  }) as const;

describe('multi-factor login', () => {
  it('is on only after a setup is confirmed with a valid code', () => {
    const s = registered();
    expect(
      s.attempt({ type: 'ConfirmMfa', proof: { kind: 'totp', timeStep: 1 }, recoveryCodeHashes: [sha('1')] }, T0),
    ).toMatchObject({ code: 'MFA_SETUP_NOT_STARTED' });
    s.run({ type: 'StartMfaSetup', secretCiphertext: 'sealed' }, T0);
    expect(s.state.mfa.status).toBe('pending');
    expect(types(s.run(logIn(true), at(1)))).toEqual(['LoginSucceeded', 'SessionStarted']);
    expect(
      s.attempt({ type: 'ConfirmMfa', proof: { kind: 'totp', timeStep: null }, recoveryCodeHashes: [sha('1')] }, at(2)),
    ).toMatchObject({ code: 'INVALID_MFA_CODE' });
    expect(
      s.attempt(
        { type: 'ConfirmMfa', proof: { kind: 'totp', timeStep: 9 }, recoveryCodeHashes: [sha('1')] },
        at(15 * 60),
      ),
    ).toMatchObject({ code: 'MFA_SETUP_EXPIRED' });
    s.run({ type: 'StartMfaSetup', secretCiphertext: 'sealed-again' }, at(15 * 60));
    expect(
      types(
        s.run(
          { type: 'ConfirmMfa', proof: { kind: 'totp', timeStep: 9 }, recoveryCodeHashes: [sha('1')] },
          at(15 * 60 + 1),
        ),
      ),
    ).toEqual(['MfaEnabled', 'RecoveryCodesIssued']);
    expect(s.state.mfa).toMatchObject({ status: 'on', secretCiphertext: 'sealed-again' });
  });

  it('asks for a second factor after the password, then starts the session on a valid code', () => {
    const s = withMfa();
    const asked = s.attempt(logIn(true), at(1));
    expect(asked).toMatchObject({ code: 'MFA_REQUIRED', details: { challengeEpoch: s.state.authenticationEpoch } });
    const epoch = s.state.authenticationEpoch;
    const done = s.run(completeMfa({ kind: 'totp', timeStep: 101 }, epoch), at(2));
    expect(types(done)).toEqual(['LoginSucceeded', 'SessionStarted']);
    expect(done[0]?.data).toMatchObject({ method: 'totp', totpTimeStep: 101 });
  });

  it('refuses a code of a time step already used (replay), and a challenge once the login completed', () => {
    const s = withMfa();
    const epoch = s.state.authenticationEpoch;
    s.run(completeMfa({ kind: 'totp', timeStep: 101 }, epoch), at(1));
    expect(s.attempt(completeMfa({ kind: 'totp', timeStep: 102 }, epoch), at(2))).toMatchObject({
      code: 'MFA_CHALLENGE_INVALID',
    });
    const next = s.state.authenticationEpoch;
    const replay = s.run(completeMfa({ kind: 'totp', timeStep: 101 }, next), at(3));
    expect(replay[0]).toMatchObject({ type: 'LoginFailed', data: { reason: 'code-already-used', factor: 'totp' } });
    expect(failureOf(replay)).toMatchObject({ code: 'INVALID_MFA_CODE' });
  });

  it('accepts each recovery code once', () => {
    const s = withMfa();
    const first = s.run(completeMfa({ kind: 'recovery-code', codeHash: sha('1') }, s.state.authenticationEpoch), at(1));
    expect(types(first)).toEqual(['RecoveryCodeUsed', 'LoginSucceeded', 'SessionStarted']);
    expect(first[0]?.data).toMatchObject({ remaining: 1 });
    const again = s.run(completeMfa({ kind: 'recovery-code', codeHash: sha('1') }, s.state.authenticationEpoch), at(2));
    expect(types(again)).toEqual(['LoginFailed']);
    expect(s.state.recoveryCodeHashes).toEqual([sha('2')]);
  });

  it('counts wrong codes towards the same lockout as passwords', () => {
    const s = withMfa();
    for (let attempt = 1; attempt <= 3; attempt += 1) s.run(logIn(false), at(attempt));
    s.run(completeMfa({ kind: 'totp', timeStep: null }, s.state.authenticationEpoch), at(4));
    const fifth = s.run(completeMfa({ kind: 'malformed' }, s.state.authenticationEpoch), at(5));
    expect(types(fifth)).toEqual(['LoginFailed', 'AccountLocked']);
    expect(s.attempt(completeMfa({ kind: 'totp', timeStep: 200 }, s.state.authenticationEpoch), at(6))).toMatchObject({
      code: 'ACCOUNT_LOCKED',
    });
  });

  it('turns MFA off with a second factor (user) or a reason (administrator)', () => {
    const s = withMfa();
    expect(types(s.run({ type: 'DisableMfa', proof: { kind: 'totp', timeStep: null }, device: null }, at(1)))).toEqual([
      'LoginFailed',
    ]);
    expect(types(s.run({ type: 'DisableMfa', proof: { kind: 'totp', timeStep: 150 }, device: null }, at(2)))).toEqual([
      'MfaDisabled',
    ]);
    expect(s.state.mfa.status).toBe('off');
    expect(s.state.recoveryCodeHashes).toEqual([]);
    const admin = withMfa();
    expect(types(admin.run({ type: 'ResetMfa', reason: 'lost phone, identity checked' }, at(1)))).toEqual([
      'MfaDisabled',
    ]);
    expect(admin.attempt({ type: 'ResetMfa', reason: 'again' }, at(2))).toMatchObject({ code: 'MFA_NOT_ENABLED' });
  });
});

describe('sessions and refresh tokens', () => {
  it('rotates the refresh token, sliding its expiry up to the session end', () => {
    const s = registered();
    const sessionId = uuid();
    s.run(logIn(true, sessionId, sha('a')), T0);
    const refreshed = s.run(
      { type: 'RefreshSession', sessionId, presentedTokenHash: sha('a'), refreshTokenHash: sha('b'), device: null },
      at(3_600),
    );
    expect(refreshed[0]?.data).toMatchObject({ refreshExpiresAt: at(3_600 + 7 * 86_400) });
    expect(s.state.sessions.get(sessionId)).toMatchObject({ refreshTokenHash: sha('b'), usedTokenHashes: [sha('a')] });
    // Refreshed every six days, the session still ends 30 days after it started.
    const tokens = ['b', 'c', 'd', 'e', 'f'];
    let late: readonly UserEvent[] = [];
    tokens.slice(1).forEach((token, index) => {
      late = s.run(
        {
          type: 'RefreshSession',
          sessionId,
          presentedTokenHash: sha(tokens[index] as string),
          refreshTokenHash: sha(token),
          device: null,
        },
        at((index + 1) * 6 * 86_400 + 3_600),
      );
    });
    expect(late[0]?.data).toMatchObject({ refreshExpiresAt: at(30 * 86_400) });
    expect(
      s.attempt(
        { type: 'RefreshSession', sessionId, presentedTokenHash: sha('f'), refreshTokenHash: sha('9'), device: null },
        at(30 * 86_400),
      ),
    ).toMatchObject({ code: 'SESSION_EXPIRED' });
    // An unused token past its own expiry is refused as well.
    const idle = uuid();
    s.run(logIn(true, idle, sha('7')), at(31 * 86_400));
    expect(
      s.attempt(
        {
          type: 'RefreshSession',
          sessionId: idle,
          presentedTokenHash: sha('7'),
          refreshTokenHash: sha('8'),
          device: null,
        },
        at(38 * 86_400),
      ),
    ).toMatchObject({ code: 'SESSION_EXPIRED' });
  });

  it('revokes the whole session when an exchanged token comes back', () => {
    const s = registered();
    const sessionId = uuid();
    s.run(logIn(true, sessionId, sha('a')), T0);
    s.run(
      { type: 'RefreshSession', sessionId, presentedTokenHash: sha('a'), refreshTokenHash: sha('b'), device: null },
      at(1),
    );
    const reuse = s.run(
      { type: 'RefreshSession', sessionId, presentedTokenHash: sha('a'), refreshTokenHash: sha('c'), device: DEVICE },
      at(2),
    );
    expect(types(reuse)).toEqual(['RefreshTokenReuseDetected', 'SessionRevoked']);
    expect(failureOf(reuse)).toMatchObject({ code: 'REFRESH_TOKEN_REUSED' });
    // The current token of the family is dead too.
    expect(
      s.attempt(
        { type: 'RefreshSession', sessionId, presentedTokenHash: sha('b'), refreshTokenHash: sha('d'), device: null },
        at(3),
      ),
    ).toMatchObject({ code: 'SESSION_REVOKED' });
  });

  it('refuses a token it never issued without revoking anything', () => {
    const s = registered();
    const sessionId = uuid();
    s.run(logIn(true, sessionId, sha('a')), T0);
    expect(
      s.attempt(
        { type: 'RefreshSession', sessionId, presentedTokenHash: sha('f'), refreshTokenHash: sha('b'), device: null },
        at(1),
      ),
    ).toMatchObject({ code: 'INVALID_REFRESH_TOKEN' });
    expect(s.state.sessions.get(sessionId)?.revokedAt).toBeNull();
  });

  it('revokes the oldest open session beyond the limit', () => {
    const limited = createUserDecider(userRules({ sessionsOpenMax: 2 }));
    let state = registered().state;
    const sessions = [uuid(), uuid(), uuid()];
    let last: readonly UserEvent[] = [];
    sessions.forEach((sessionId, index) => {
      const decision = limited.decide(
        { ...logIn(true, sessionId), commandId: uuid(), userId: USER },
        state,
        new Date(at(index)),
      );
      if (isIdentityRejection(decision)) throw new Error(decision.code);
      for (const event of decision) state = limited.evolve(state, event);
      last = decision;
    });
    expect(types(last)).toEqual(['LoginSucceeded', 'SessionRevoked', 'SessionStarted']);
    expect(last[1]?.data).toMatchObject({ sessionId: sessions[0], reason: 'session-limit' });
  });

  it('revokes every other open session when the password changes', () => {
    const s = registered();
    const [mine, other] = [uuid(), uuid()];
    s.run(logIn(true, mine), T0);
    s.run(logIn(true, other), at(1));
    const changed = s.run(
      { type: 'ChangePassword', currentPasswordValid: true, passwordHash: HASH, keepSessionId: mine, device: null },
      at(2),
    );
    expect(types(changed)).toEqual(['PasswordChanged', 'SessionRevoked']);
    expect(changed[1]?.data).toMatchObject({ sessionId: other, reason: 'password-changed' });
    const wrong = s.run(
      { type: 'ChangePassword', currentPasswordValid: false, passwordHash: HASH, keepSessionId: mine, device: null },
      at(3),
    );
    expect(wrong[0]).toMatchObject({ type: 'LoginFailed', data: { during: 'password-change' } });
  });

  it('logs out once: revoking an ended session changes nothing', () => {
    const s = registered();
    const sessionId = uuid();
    s.run(logIn(true, sessionId), T0);
    expect(types(s.run({ type: 'RevokeSession', sessionId, reason: 'logout' }, at(1)))).toEqual(['SessionRevoked']);
    expect(s.run({ type: 'RevokeSession', sessionId, reason: 'logout' }, at(2))).toEqual([]);
    expect(s.attempt({ type: 'RevokeSession', sessionId: uuid(), reason: 'revoked' }, at(3))).toMatchObject({
      code: 'UNKNOWN_SESSION',
    });
  });
});
