/**
 * The identity service's behaviour as a test suite, run against every event store: memory in the
 * unit tier, PGlite in the integration tier. Each test gets an empty store and a clock it moves.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '@khata/event-store';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { emailStream } from './email-registry.ts';
import { Identity, type LoginResult } from './identity.ts';
import { PasswordHasher } from './passwords.ts';
import { DEFAULT_IDENTITY_SETTINGS } from './settings.ts';
import { DEVICE, OTHER_PASSWORD, PASSWORD, TEST_SCRYPT_COST, type TestIdentity, testIdentity } from './test-support.ts';
import { TOTP_PERIOD_SECONDS, totpCode, totpTimeStep } from './totp.ts';
import { userStream } from './user-store.ts';

export interface IdentityTarget {
  fresh(): Promise<{ readonly store: EventStore; close(): Promise<void> }>;
}

const ADMIN = { actor: 'user:admin' };

type Authenticated = Extract<LoginResult, { status: 'authenticated' }>;

function authenticated(result: LoginResult): Authenticated {
  if (!result.ok) throw new Error(`expected a login, got ${result.rejection.code}`);
  if (result.status !== 'authenticated') throw new Error('expected tokens, got an MFA challenge');
  return result;
}

function challenged(result: LoginResult): string {
  if (!result.ok || result.status !== 'mfa-required')
    throw new Error(`expected an MFA challenge: ${JSON.stringify(result)}`);
  return result.challengeToken;
}

export function identitySuite(name: string, target: IdentityTarget): void {
  describe(`identity on ${name}`, { timeout: 60_000 }, () => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      vi.restoreAllMocks();
      for (const close of closers.splice(0)) await close();
    });

    async function setup(options: Parameters<typeof testIdentity>[1] = {}): Promise<TestIdentity> {
      const { store, close } = await target.fresh();
      closers.push(close);
      return testIdentity(store, options);
    }

    async function customer(t: TestIdentity, email = 'Asha.Rao@Example.com') {
      const accountId = randomUUID();
      const registered = await t.identity.register({
        email,
        password: PASSWORD,
        name: 'Asha Rao',
        phone: '+91 98450 00000',
        accountId,
      });
      if (!registered.ok) throw new Error(registered.rejection.code);
      return { userId: registered.userId, accountId, email };
    }

    async function eventTypes(store: EventStore, userId: string): Promise<string[]> {
      const { events } = await store.readStream(userStream(userId));
      return events.map((event) => event.type);
    }

    async function withMfa(t: TestIdentity, userId: string) {
      const setupResult = await t.identity.setupMfa(userId);
      if (!setupResult.ok) throw new Error(setupResult.rejection.code);
      const confirmed = await t.identity.confirmMfa({
        userId,
        code: await totpCode(setupResult.secret, t.clock.now()),
      });
      if (!confirmed.ok) throw new Error(confirmed.rejection.code);
      // The confirming code's step is spent: move to the next one for the tests' own codes.
      t.clock.advanceSeconds(TOTP_PERIOD_SECONDS);
      return { secret: setupResult.secret, recoveryCodes: confirmed.recoveryCodes };
    }

    describe('registration', () => {
      it('registers a customer linked to its account, who can then log in', async () => {
        const t = await setup();
        const { userId, accountId } = await customer(t);
        const login = authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        expect(login.principal).toEqual({ userId, role: 'customer', accountId, sessionId: login.tokens.sessionId });
        expect(await t.identity.user(userId)).toMatchObject({
          email: 'Asha.Rao@Example.com',
          role: 'customer',
          accountId,
          mfa: 'off',
          lockedUntil: null,
        });
      });

      it('keeps e-mail addresses unique whatever their case, even when two registrations race', async () => {
        const t = await setup();
        await customer(t, 'Asha.Rao@Example.com');
        const again = await t.identity.register({
          email: 'ASHA.RAO@example.COM',
          password: OTHER_PASSWORD,
          name: 'Impostor',
          accountId: randomUUID(),
        });
        expect(again).toMatchObject({ ok: false, rejection: { code: 'EMAIL_TAKEN' } });
        const racing = await Promise.all(
          ['Ravi@Example.com', 'ravi@example.COM', 'RAVI@EXAMPLE.COM'].map((email) =>
            t.identity.register({ email, password: PASSWORD, name: 'Ravi', accountId: randomUUID() }),
          ),
        );
        expect(racing.filter((outcome) => outcome.ok)).toHaveLength(1);
        expect(racing.filter((outcome) => !outcome.ok).map((outcome) => !outcome.ok && outcome.rejection.code)).toEqual(
          ['EMAIL_TAKEN', 'EMAIL_TAKEN'],
        );
        const winner = racing.find((outcome) => outcome.ok);
        expect(await t.identity.userIdByEmail('rAvI@example.com')).toBe(winner?.ok === true ? winner.userId : null);
      });

      it('refuses short, common and personal passwords, and claims nothing for them', async () => {
        const t = await setup();
        const attempt = (password: string) =>
          t.identity.register({ email: 'asha@example.com', password, name: 'Asha Rao', accountId: randomUUID() });
        expect(await attempt('short pw 1')).toMatchObject({ ok: false, rejection: { code: 'PASSWORD_TOO_SHORT' } });
        expect(await attempt('password1234')).toMatchObject({ ok: false, rejection: { code: 'WEAK_PASSWORD' } });
        expect(await attempt('ashaRao12345')).toMatchObject({ ok: false, rejection: { code: 'WEAK_PASSWORD' } });
        expect((await t.store.readStream(emailStream('asha@example.com'))).version).toBe(0n);
        expect(await attempt(PASSWORD)).toMatchObject({ ok: true });
      });

      it('throws InvalidCommand for a malformed address or phone, before claiming the address', async () => {
        const t = await setup();
        const accountId = randomUUID();
        await expect(
          t.identity.register({ email: 'not-an-address', password: PASSWORD, name: 'Asha', accountId }),
        ).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
        await expect(
          t.identity.register({
            email: 'asha@example.com',
            password: PASSWORD,
            name: 'Asha',
            phone: 'call me',
            accountId,
          }),
        ).rejects.toMatchObject({
          code: 'INVALID_COMMAND',
          issues: expect.arrayContaining([expect.objectContaining({ path: '/phone' })]),
        });
        expect((await t.store.readStream(emailStream('asha@example.com'))).version).toBe(0n);
      });

      it('lets an administrator create staff users, never customers', async () => {
        const t = await setup();
        const created = await t.identity.createUser(
          { email: 'audit@khata.example', password: PASSWORD, name: 'Meera', role: 'auditor' },
          ADMIN,
        );
        if (!created.ok) throw new Error(created.rejection.code);
        const login = authenticated(await t.identity.login({ email: 'audit@khata.example', password: PASSWORD }));
        expect(login.principal).toMatchObject({ userId: created.userId, role: 'auditor', accountId: null });
        const [registered] = (await t.store.readStream(userStream(created.userId))).events;
        expect(registered?.metadata.actor).toBe('user:admin');
        expect(
          await t.identity.createUser(
            { email: 'c@khata.example', password: PASSWORD, name: 'C', role: 'customer' as 'admin' },
            ADMIN,
          ),
        ).toMatchObject({ ok: false, rejection: { code: 'INVALID_ROLE' } });
      });
    });

    describe('passwords', () => {
      it('answers an unknown address and a wrong password identically, after the same scrypt work', async () => {
        const t = await setup();
        await customer(t);
        const verify = vi.spyOn(PasswordHasher.prototype, 'verify');
        const unknown = await t.identity.login({ email: 'nobody@example.com', password: PASSWORD });
        const unknownCosts = verify.mock.calls.map(([, stored]) => stored.split('$').slice(0, 3).join('$'));
        verify.mockClear();
        const wrong = await t.identity.login({ email: 'asha.rao@example.com', password: OTHER_PASSWORD });
        const wrongCosts = verify.mock.calls.map(([, stored]) => stored.split('$').slice(0, 3).join('$'));
        expect(unknown).toEqual(wrong);
        expect(unknown).toEqual({
          ok: false,
          rejection: {
            kind: 'rejection',
            code: 'INVALID_CREDENTIALS',
            message: 'the e-mail address or the password is wrong',
          },
        });
        expect(unknownCosts).toEqual(['$scrypt$ln=10,r=8,p=1']);
        expect(wrongCosts).toEqual(unknownCosts);
      });

      it('changes the password with the current one, revoking every other session', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const here = authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        const elsewhere = authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        expect(
          await t.identity.changePassword({
            userId,
            currentPassword: OTHER_PASSWORD,
            newPassword: 'another strong phrase 99',
          }),
        ).toMatchObject({ ok: false, rejection: { code: 'INVALID_CREDENTIALS' } });
        expect(
          await t.identity.changePassword({
            userId,
            currentPassword: PASSWORD,
            newPassword: OTHER_PASSWORD,
            sessionId: here.tokens.sessionId,
          }),
        ).toEqual({ ok: true });
        expect(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD })).toMatchObject({
          ok: false,
        });
        authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: OTHER_PASSWORD }));
        expect(await t.identity.verifyAccessToken(here.tokens.accessToken)).toMatchObject({ ok: true });
        expect(await t.identity.verifyAccessToken(elsewhere.tokens.accessToken)).toMatchObject({
          ok: false,
          rejection: { code: 'SESSION_REVOKED' },
        });
      });

      it('hashes a password again with raised costs at the next login', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const raised = await Identity.open({
          store: t.store,
          clock: t.clock.now,
          keysDirectory: null,
          passwordCost: { ...TEST_SCRYPT_COST, logN: 11 },
        });
        authenticated(await raised.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        const { events } = await t.store.readStream(userStream(userId));
        const rehashed = events.find((event) => event.type === 'PasswordChanged');
        expect(rehashed?.data).toMatchObject({ reason: 'rehashed' });
        expect(String(rehashed?.data.passwordHash)).toMatch(/^\$scrypt\$ln=11,/);
        authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
      });
    });

    describe('lockout', () => {
      it('locks after five failures, refuses even the right password, and an administrator unlocks', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        for (let attempt = 1; attempt <= 5; attempt += 1) {
          t.clock.advanceSeconds(30);
          const failed = await t.identity.login({
            email: 'asha.rao@example.com',
            password: OTHER_PASSWORD,
            device: DEVICE,
          });
          expect(failed).toMatchObject({ ok: false, rejection: { code: 'INVALID_CREDENTIALS' } });
        }
        const lockedUntil = new Date(t.clock.now().getTime() + 15 * 60_000).toISOString();
        expect(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD })).toMatchObject({
          ok: false,
          rejection: { code: 'ACCOUNT_LOCKED', details: { lockedUntil } },
        });
        expect(await t.identity.user(userId)).toMatchObject({ lockedUntil });
        expect(await eventTypes(t.store, userId)).toEqual([
          'UserRegistered',
          'LoginFailed',
          'LoginFailed',
          'LoginFailed',
          'LoginFailed',
          'LoginFailed',
          'AccountLocked',
        ]);
        expect(await t.identity.unlockUser({ userId, reason: 'verified by phone' }, ADMIN)).toEqual({ ok: true });
        authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        expect(await t.identity.unlockUser({ userId, reason: 'again' }, ADMIN)).toMatchObject({
          ok: false,
          rejection: { code: 'NOT_LOCKED' },
        });
      });

      it('lifts the lock after fifteen minutes by itself', async () => {
        const t = await setup();
        await customer(t);
        for (let attempt = 1; attempt <= 5; attempt += 1) {
          await t.identity.login({ email: 'asha.rao@example.com', password: OTHER_PASSWORD });
        }
        t.clock.advanceSeconds(15 * 60 - 1);
        expect(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD })).toMatchObject({
          rejection: { code: 'ACCOUNT_LOCKED' },
        });
        t.clock.advanceSeconds(1);
        authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
      });

      it('follows configured thresholds', async () => {
        const t = await setup({
          settings: {
            ...DEFAULT_IDENTITY_SETTINGS,
            rules: {
              ...DEFAULT_IDENTITY_SETTINGS.rules,
              lockout: { failuresMax: 3, windowSeconds: 60, durationSeconds: 120 },
            },
          },
        });
        await customer(t);
        for (let attempt = 1; attempt <= 3; attempt += 1) {
          await t.identity.login({ email: 'asha.rao@example.com', password: OTHER_PASSWORD });
        }
        expect(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD })).toMatchObject({
          rejection: { code: 'ACCOUNT_LOCKED' },
        });
        t.clock.advanceSeconds(120);
        authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
      });

      it('locks an unknown address the same way, so a lock reveals nothing', async () => {
        const t = await setup();
        await customer(t);
        const known: unknown[] = [];
        const unknown: unknown[] = [];
        for (let attempt = 1; attempt <= 6; attempt += 1) {
          known.push(await t.identity.login({ email: 'asha.rao@example.com', password: OTHER_PASSWORD }));
          unknown.push(await t.identity.login({ email: 'ghost@example.com', password: OTHER_PASSWORD }));
        }
        expect(unknown).toEqual(known);
        expect(unknown.at(-1)).toMatchObject({ rejection: { code: 'ACCOUNT_LOCKED' } });
      });
    });

    describe('multi-factor authentication', () => {
      it('sets up with a secret, an otpauth URI and a QR code, and is on only after a valid code', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const started = await t.identity.setupMfa(userId);
        if (!started.ok) throw new Error(started.rejection.code);
        expect(started.otpauthUri).toMatch(/^otpauth:\/\/totp\/Khata:Asha\.Rao%40Example\.com\?/);
        expect(started.otpauthUri).toContain(`secret=${started.secret}`);
        expect(started.qrCodeDataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/=]{100,}$/);
        // Not on yet: the password alone still logs in.
        authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        expect(await t.identity.confirmMfa({ userId, code: '000000' })).toMatchObject({
          ok: false,
          rejection: { code: 'INVALID_MFA_CODE' },
        });
        const confirmed = await t.identity.confirmMfa({ userId, code: await totpCode(started.secret, t.clock.now()) });
        if (!confirmed.ok) throw new Error(confirmed.rejection.code);
        expect(confirmed.recoveryCodes).toHaveLength(10);
        expect(await t.identity.user(userId)).toMatchObject({ mfa: 'on', recoveryCodesRemaining: 10 });
        // The secret is stored encrypted: nothing in the stream shows it or the recovery codes.
        const stored = JSON.stringify((await t.store.readStream(userStream(userId))).events.map((event) => event.data));
        expect(stored).not.toContain(started.secret);
        for (const code of confirmed.recoveryCodes) expect(stored).not.toContain(code);
        expect(await t.identity.setupMfa(userId)).toMatchObject({
          ok: false,
          rejection: { code: 'MFA_ALREADY_ENABLED' },
        });
      });

      it('asks for a code after the password, then issues tokens; the same code never works twice', async () => {
        const t = await setup();
        const { userId, accountId } = await customer(t);
        const { secret } = await withMfa(t, userId);
        const first = await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD, device: DEVICE });
        expect(first).toMatchObject({ ok: true, status: 'mfa-required' });
        const code = await totpCode(secret, t.clock.now());
        const done = authenticated(
          await t.identity.verifyMfa({ challengeToken: challenged(first), code, device: DEVICE }),
        );
        expect(done.principal).toMatchObject({ userId, accountId, role: 'customer' });
        // The challenge is spent, and the code too (RFC 6238 §5.2).
        expect(await t.identity.verifyMfa({ challengeToken: challenged(first), code })).toMatchObject({
          rejection: { code: 'MFA_CHALLENGE_INVALID' },
        });
        const second = challenged(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        expect(await t.identity.verifyMfa({ challengeToken: second, code })).toMatchObject({
          rejection: { code: 'INVALID_MFA_CODE' },
        });
      });

      it('accepts a code one step old or one step ahead, not two, on the injected clock', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const { secret } = await withMfa(t, userId);
        const step = totpTimeStep(t.clock.now()) + 2;
        const stepStart = new Date(step * TOTP_PERIOD_SECONDS * 1_000);
        const login = async (codeAt: Date, checkAt: Date) => {
          t.clock.set(checkAt);
          const challenge = challenged(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
          return t.identity.verifyMfa({ challengeToken: challenge, code: await totpCode(secret, codeAt) });
        };
        const ms = (offset: number) => new Date(stepStart.getTime() + offset);
        const period = TOTP_PERIOD_SECONDS * 1_000;
        // A code of step S checked on the last millisecond of step S + 2: refused.
        expect(await login(ms(0), ms(3 * period - 1))).toMatchObject({ rejection: { code: 'INVALID_MFA_CODE' } });
        // A code of step S + 1 checked on the first millisecond of S: accepted (the phone runs ahead).
        expect(await login(ms(period), ms(0))).toMatchObject({ ok: true, status: 'authenticated' });
        // A code of step S + 2 checked on the last millisecond of S + 3: accepted (the phone runs behind).
        expect(await login(ms(2 * period), ms(4 * period - 1))).toMatchObject({ ok: true, status: 'authenticated' });
        // A code of step S + 5 checked on the last millisecond of S + 3: two steps ahead, refused.
        expect(await login(ms(5 * period), ms(4 * period - 1))).toMatchObject({
          rejection: { code: 'INVALID_MFA_CODE' },
        });
      });

      it('accepts each recovery code once', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const { recoveryCodes } = await withMfa(t, userId);
        const code = (recoveryCodes[0] as string).toLowerCase();
        const first = challenged(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        authenticated(await t.identity.verifyMfa({ challengeToken: first, code }));
        expect(await t.identity.user(userId)).toMatchObject({ recoveryCodesRemaining: 9 });
        const second = challenged(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        expect(await t.identity.verifyMfa({ challengeToken: second, code })).toMatchObject({
          rejection: { code: 'INVALID_MFA_CODE' },
        });
        authenticated(await t.identity.verifyMfa({ challengeToken: second, code: recoveryCodes[1] as string }));
      });

      it('locks after five wrong codes, like passwords', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const { secret } = await withMfa(t, userId);
        const challenge = challenged(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        for (let attempt = 1; attempt <= 5; attempt += 1) {
          expect(await t.identity.verifyMfa({ challengeToken: challenge, code: '000000' })).toMatchObject({
            rejection: { code: 'INVALID_MFA_CODE' },
          });
        }
        expect(
          await t.identity.verifyMfa({ challengeToken: challenge, code: await totpCode(secret, t.clock.now()) }),
        ).toMatchObject({ rejection: { code: 'ACCOUNT_LOCKED' } });
        expect(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD })).toMatchObject({
          rejection: { code: 'ACCOUNT_LOCKED' },
        });
      });

      it('expires the challenge after five minutes', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const { secret } = await withMfa(t, userId);
        const challenge = challenged(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        t.clock.advanceSeconds(5 * 60 + 5);
        expect(
          await t.identity.verifyMfa({ challengeToken: challenge, code: await totpCode(secret, t.clock.now()) }),
        ).toMatchObject({ rejection: { code: 'MFA_CHALLENGE_INVALID' } });
      });

      it('turns off with a current code, or by an administrator; recovery codes can be renewed', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const { secret, recoveryCodes } = await withMfa(t, userId);
        const renewed = await t.identity.regenerateRecoveryCodes({
          userId,
          code: await totpCode(secret, t.clock.now()),
        });
        if (!renewed.ok) throw new Error(renewed.rejection.code);
        expect(renewed.recoveryCodes).not.toContain(recoveryCodes[0]);
        expect(await t.identity.disableMfa({ userId, code: recoveryCodes[0] as string })).toMatchObject({
          rejection: { code: 'INVALID_MFA_CODE' },
        });
        expect(await t.identity.disableMfa({ userId, code: renewed.recoveryCodes[0] as string })).toEqual({ ok: true });
        authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        await withMfa(t, userId);
        expect(await t.identity.resetMfa({ userId, reason: 'lost phone; identity checked by support' }, ADMIN)).toEqual(
          {
            ok: true,
          },
        );
        expect(await t.identity.user(userId)).toMatchObject({ mfa: 'off', recoveryCodesRemaining: 0 });
      });
    });

    describe('tokens and sessions', () => {
      it('rotates the refresh token; the old one, presented again, revokes the whole session', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const login = authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        t.clock.advanceSeconds(16 * 60);
        expect(await t.identity.verifyAccessToken(login.tokens.accessToken)).toMatchObject({
          rejection: { code: 'INVALID_TOKEN', details: { reason: 'expired' } },
        });
        const refreshed = await t.identity.refresh({ refreshToken: login.tokens.refreshToken, device: DEVICE });
        if (!refreshed.ok) throw new Error(refreshed.rejection.code);
        expect(refreshed.tokens.refreshToken).not.toBe(login.tokens.refreshToken);
        expect(refreshed.tokens.sessionId).toBe(login.tokens.sessionId);
        expect(await t.identity.verifyAccessToken(refreshed.tokens.accessToken)).toMatchObject({ ok: true });

        const replayed = await t.identity.refresh({ refreshToken: login.tokens.refreshToken });
        expect(replayed).toMatchObject({ ok: false, rejection: { code: 'REFRESH_TOKEN_REUSED' } });
        expect(await t.identity.refresh({ refreshToken: refreshed.tokens.refreshToken })).toMatchObject({
          rejection: { code: 'SESSION_REVOKED' },
        });
        expect(await t.identity.verifyAccessToken(refreshed.tokens.accessToken)).toMatchObject({
          rejection: { code: 'SESSION_REVOKED' },
        });
        const log = await t.identity.securityEvents(userId);
        expect(log.events.map((event) => event.type).slice(-2)).toEqual([
          'RefreshTokenReuseDetected',
          'SessionRevoked',
        ]);
        expect(log.events.at(-1)?.data).toMatchObject({ reason: 'refresh-token-reuse' });
      });

      it('lets exactly one of two concurrent refreshes with the same token through', async () => {
        const t = await setup();
        await customer(t);
        const login = authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        const outcomes = await Promise.all([
          t.identity.refresh({ refreshToken: login.tokens.refreshToken }),
          t.identity.refresh({ refreshToken: login.tokens.refreshToken }),
        ]);
        expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
        expect(outcomes.find((outcome) => !outcome.ok)).toMatchObject({ rejection: { code: 'REFRESH_TOKEN_REUSED' } });
      });

      it('refuses refresh tokens it never issued', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const login = authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        for (const refreshToken of [
          'not a token',
          `rt1.${userId}.${login.tokens.sessionId}.${'A'.repeat(43)}`,
          `rt1.${randomUUID()}.${login.tokens.sessionId}.${'A'.repeat(43)}`,
        ]) {
          expect(await t.identity.refresh({ refreshToken })).toMatchObject({
            rejection: { code: 'INVALID_REFRESH_TOKEN' },
          });
        }
        expect(await t.identity.verifyAccessToken(login.tokens.accessToken)).toMatchObject({ ok: true });
      });

      it('ends a session at logout: its access and refresh tokens stop working', async () => {
        const t = await setup();
        await customer(t);
        const login = authenticated(await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD }));
        expect(await t.identity.logout(login.principal)).toEqual({ ok: true });
        expect(await t.identity.verifyAccessToken(login.tokens.accessToken)).toMatchObject({
          rejection: { code: 'SESSION_REVOKED' },
        });
        expect(await t.identity.refresh({ refreshToken: login.tokens.refreshToken })).toMatchObject({
          rejection: { code: 'SESSION_REVOKED' },
        });
      });

      it('lists sessions with their device fingerprint, and revokes one', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        const phone = authenticated(
          await t.identity.login({
            email: 'asha.rao@example.com',
            password: PASSWORD,
            device: {
              userAgent: 'KhataApp/2.1 (Android 15)',
              ip: '2401:4900:1c2a:9f00::17',
              clientDeviceId: 'app-8f2c',
            },
          }),
        );
        t.clock.advanceSeconds(60);
        const laptop = authenticated(
          await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD, device: DEVICE }),
        );
        const sessions = await t.identity.listSessions(userId);
        expect(sessions.map((session) => session.sessionId)).toEqual([laptop.tokens.sessionId, phone.tokens.sessionId]);
        expect(sessions[1]).toMatchObject({
          status: 'active',
          device: {
            userAgent: 'KhataApp/2.1 (Android 15)',
            ipPrefix: '2401:4900:1c2a::/48',
            clientDeviceId: 'app-8f2c',
          },
        });
        expect(sessions[0]?.device).toMatchObject({ ipPrefix: '203.0.113.0/24', clientDeviceId: null });
        expect(
          await t.identity.revokeSession({ userId, sessionId: phone.tokens.sessionId }, { actor: `user:${userId}` }),
        ).toEqual({
          ok: true,
        });
        expect((await t.identity.listSessions(userId)).map((session) => session.sessionId)).toEqual([
          laptop.tokens.sessionId,
        ]);
        expect(await t.identity.listSessions(userId, { includeEnded: true })).toMatchObject([
          { status: 'active' },
          { status: 'revoked', revokedReason: 'revoked' },
        ]);
        expect(await t.identity.revokeSession({ userId, sessionId: randomUUID() }, ADMIN)).toMatchObject({
          rejection: { code: 'UNKNOWN_SESSION' },
        });
      });
    });

    describe('security log', () => {
      it('is the user stream, readable in pages with secrets left out, and its hash chain holds', async () => {
        const t = await setup();
        const { userId } = await customer(t);
        await t.identity.login({ email: 'asha.rao@example.com', password: OTHER_PASSWORD, device: DEVICE });
        const login = authenticated(
          await t.identity.login({ email: 'asha.rao@example.com', password: PASSWORD, device: DEVICE }),
        );
        await withMfa(t, userId);
        await t.identity.refresh({ refreshToken: login.tokens.refreshToken });
        const { events, nextVersion } = await t.identity.securityEvents(userId);
        expect(nextVersion).toBeNull();
        expect(events.map((event) => event.type)).toEqual([
          'UserRegistered',
          'LoginFailed',
          'LoginSucceeded',
          'SessionStarted',
          'MfaSetupStarted',
          'MfaEnabled',
          'RecoveryCodesIssued',
          'SessionRefreshed',
        ]);
        expect(events[1]).toMatchObject({
          actor: `user:${userId}`,
          data: { factor: 'password', during: 'login', device: { ipPrefix: '203.0.113.0/24' } },
        });
        expect(events[6]?.data).toMatchObject({ codesIssued: 10 });
        const shown = JSON.stringify(events);
        for (const secret of ['passwordHash', 'refreshTokenHash', 'secretCiphertext', 'codeHashes', '$scrypt$']) {
          expect(shown).not.toContain(secret);
        }
        const page = await t.identity.securityEvents(userId, { fromVersion: 3n, maxCount: 2 });
        expect(page.events.map((event) => event.type)).toEqual(['LoginSucceeded', 'SessionStarted']);
        expect(page.nextVersion).toBe(5n);
        expect(await t.identity.verifyChain(userId)).toMatchObject({ ok: true, eventsChecked: 8 });
      });

      it("gathers every user's security events in one feed for auditors, registry streams left out", async () => {
        const t = await setup();
        const asha = await customer(t, 'asha@example.com');
        const ravi = await customer(t, 'ravi@example.com');
        await t.identity.login({ email: 'ravi@example.com', password: OTHER_PASSWORD });
        const first = await t.identity.securityFeed({ maxCount: 2 });
        const rest = await t.identity.securityFeed({ after: first.last });
        const feed = [...first.events, ...rest.events];
        expect(feed.map((event) => [event.userId, event.type])).toEqual([
          [asha.userId, 'UserRegistered'],
          [ravi.userId, 'UserRegistered'],
          [ravi.userId, 'LoginFailed'],
        ]);
        expect(JSON.stringify(feed)).not.toContain('$scrypt$');
      });
    });
  });
}
