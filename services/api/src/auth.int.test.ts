/**
 * Identity over HTTP (SPEC §12): registration, login, refresh rotation and reuse, MFA, lockout, sessions,
 * rate limits, token tampering, and customers confined to their own accounts — with real tokens.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { totpCode } from '@khata/identity';
import { importPKCS8, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApi, testApi } from './testing.ts';

let api: TestApi;
let now = Date.parse('2026-11-25T06:00:00.000Z');
const clock = () => new Date(now);

beforeAll(async () => {
  api = await testApi({ clock, env: { CORS_ORIGINS: 'https://portal.khata.example' } });
}, 60_000);
afterAll(async () => {
  await api?.close();
});

const PASSWORD = 'correct horse battery staple 42';

async function register(email = `user-${randomUUID()}@khata.example`) {
  const response = await api.app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    headers: { 'user-agent': 'vitest', 'x-forwarded-for': '10.1.2.3' },
    payload: {
      email,
      password: PASSWORD,
      name: 'Priya Sharma',
      phone: '+91 98450 11111',
      account: {
        legalName: 'Priya Telecom LLP',
        billingAddress: { line1: '2 Park St', city: 'Kolkata', stateCode: '19', postalCode: '700016', country: 'IN' },
      },
      deviceId: 'laptop-1',
    },
  });
  expect(response.statusCode, response.body).toBe(201);
  return {
    email,
    ...(response.json() as {
      userId: string;
      accountId: string;
      tokens: { accessToken: string; refreshToken: string; sessionId: string };
    }),
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const login = (payload: object, ip = '10.0.0.1') =>
  api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload, remoteAddress: ip });

describe('registration and login', () => {
  it('registers a customer with its account, and confines it to that account', async () => {
    const alice = await register();
    const bob = await register();
    await api.settle();
    const own = await api.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${alice.accountId}/balance`,
      headers: bearer(alice.tokens.accessToken),
    });
    expect(own.statusCode).toBe(200);
    const other = await api.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${bob.accountId}/balance`,
      headers: bearer(alice.tokens.accessToken),
    });
    expect(other.statusCode).toBe(404);
    const taken = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: {
        email: alice.email.toUpperCase(),
        password: PASSWORD,
        name: 'X',
        phone: '+91 98450 22222',
        account: {
          legalName: 'X',
          billingAddress: { line1: 'x', city: 'x', stateCode: '19', postalCode: '700016', country: 'IN' },
        },
      },
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json()).toMatchObject({ code: 'EMAIL_TAKEN' });
  });

  it('refuses a weak password and an invalid GSTIN before anything is created', async () => {
    const weak = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: {
        email: `w-${randomUUID()}@khata.example`,
        password: 'password123',
        name: 'W',
        phone: '+91 98450 33333',
        account: {
          legalName: 'W',
          billingAddress: { line1: 'x', city: 'x', stateCode: '29', postalCode: '560001', country: 'IN' },
        },
      },
    });
    expect(weak.statusCode).toBe(422);
    // The rejection's details reach the client as numbers, not strings.
    expect(weak.json()).toMatchObject({ code: 'PASSWORD_TOO_SHORT', details: { lengthMin: 12 } });
    const gstin = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: {
        email: `g-${randomUUID()}@khata.example`,
        password: PASSWORD,
        name: 'G',
        phone: '+91 98450 44444',
        account: {
          legalName: 'G',
          gstin: '27AAPFU0939F1ZX',
          billingAddress: { line1: 'x', city: 'x', stateCode: '27', postalCode: '400001', country: 'IN' },
        },
      },
    });
    expect(gstin.statusCode).toBe(422);
    expect(gstin.json()).toMatchObject({ code: 'INVALID_GSTIN', errors: [{ pointer: '/body/account/gstin' }] });
  });

  it('answers an unknown e-mail address and a wrong password identically', async () => {
    const user = await register();
    const unknown = await login({ email: `nobody-${randomUUID()}@khata.example`, password: PASSWORD }, '10.9.0.1');
    const wrong = await login({ email: user.email, password: 'wrong password but long enough' }, '10.9.0.2');
    expect(unknown.statusCode).toBe(401);
    expect(wrong.statusCode).toBe(401);
    const { requestId: _a, instance: _b, ...unknownBody } = unknown.json();
    const { requestId: _c, instance: _d, ...wrongBody } = wrong.json();
    expect(unknownBody).toEqual(wrongBody);
  });
});

describe('tokens', () => {
  it('rotates refresh tokens, and revokes the session when an old one is reused', async () => {
    const user = await register();
    const first = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: user.tokens.refreshToken },
    });
    expect(first.statusCode).toBe(200);
    const rotated = first.json();
    expect(rotated.refreshToken).not.toBe(user.tokens.refreshToken);
    const reuse = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: user.tokens.refreshToken },
    });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json()).toMatchObject({ code: 'REFRESH_TOKEN_REUSED' });
    // The whole family is gone: the rotated refresh token and the access tokens of the session.
    const after = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: rotated.refreshToken },
    });
    expect(after.statusCode).toBe(401);
    const access = await api.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${user.accountId}/balance`,
      headers: bearer(rotated.accessToken),
    });
    expect(access.statusCode).toBe(401);
    const auditor = bearer(api.token('auditor'));
    const log = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/security?user=${user.userId}`,
      headers: auditor,
    });
    expect(log.json().items.map((e: { type: string }) => e.type)).toContain('RefreshTokenReuseDetected');
  });

  it('refuses tampered, foreign, unsigned and expired access tokens', async () => {
    const user = await register();
    const [header, payload, signature] = user.tokens.accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${signature}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const { privateKey } = generateKeyPairSync('ed25519');
    const foreign = await new SignJWT(claims)
      .setProtectedHeader({
        alg: 'EdDSA',
        kid: JSON.parse(Buffer.from(header, 'base64url').toString()).kid,
        typ: 'at+jwt',
      })
      .sign(await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'EdDSA'));
    for (const token of [tampered, none, foreign, 'garbage']) {
      const response = await api.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${user.accountId}/balance`,
        headers: bearer(token),
      });
      expect(response.statusCode, token.slice(0, 20)).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    now += 16 * 60 * 1000; // past the 15-minute access token
    const expired = await api.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${user.accountId}/balance`,
      headers: bearer(user.tokens.accessToken),
    });
    expect(expired.statusCode).toBe(401);
  });
});

describe('MFA', () => {
  it('turns on only after a valid code, then needs a second factor at login; recovery codes work once', async () => {
    const user = await register();
    const setup = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/setup-mfa',
      headers: bearer(user.tokens.accessToken),
    });
    expect(setup.statusCode).toBe(200);
    const { secret, otpauthUri, qrCodeDataUrl } = setup.json();
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(qrCodeDataUrl).toMatch(/^data:image\/png;base64,/);
    // Not on yet: a password alone still logs in.
    expect((await login({ email: user.email, password: PASSWORD }, '10.2.0.1')).json()).toMatchObject({
      status: 'authenticated',
    });
    const wrong = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/verify-mfa',
      headers: bearer(user.tokens.accessToken),
      payload: { code: '000000' },
    });
    expect(wrong.statusCode).toBe(401);
    const verified = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/verify-mfa',
      headers: bearer(user.tokens.accessToken),
      payload: { code: await totpCode(secret, clock()) },
    });
    expect(verified.statusCode).toBe(200);
    const { recoveryCodes } = verified.json();
    expect(recoveryCodes).toHaveLength(10);

    now += 30_000; // the next TOTP step (a code is good once)
    const challenge = await login({ email: user.email, password: PASSWORD }, '10.2.0.2');
    expect(challenge.json()).toMatchObject({ status: 'mfa-required' });
    const second = await login(
      { challengeToken: challenge.json().challengeToken, totp: await totpCode(secret, clock()) },
      '10.2.0.2',
    );
    expect(second.json()).toMatchObject({ status: 'authenticated', tokenType: 'Bearer' });

    const withRecovery = await login({ email: user.email, password: PASSWORD, totp: recoveryCodes[0] }, '10.2.0.3');
    expect(withRecovery.json()).toMatchObject({ status: 'authenticated' });
    const again = await login({ email: user.email, password: PASSWORD, totp: recoveryCodes[0] }, '10.2.0.4');
    expect(again.statusCode).toBe(401);
  });
});

describe('managing your own credentials', () => {
  async function withMfa() {
    const user = await register();
    const setup = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/setup-mfa',
      headers: bearer(user.tokens.accessToken),
    });
    const { secret } = setup.json();
    const verified = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/verify-mfa',
      headers: bearer(user.tokens.accessToken),
      payload: { code: await totpCode(secret, clock()) },
    });
    expect(verified.statusCode).toBe(200);
    now += 30_000;
    return { ...user, secret: secret as string, recoveryCodes: verified.json().recoveryCodes as string[] };
  }

  it('replaces the recovery codes with a second factor: the old set stops working', async () => {
    const user = await withMfa();
    const refused = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/recovery-codes',
      headers: bearer(user.tokens.accessToken),
      payload: { code: '000000' },
    });
    expect(refused.statusCode).toBe(401);
    const replaced = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/recovery-codes',
      headers: bearer(user.tokens.accessToken),
      payload: { code: await totpCode(user.secret, clock()) },
    });
    expect(replaced.statusCode).toBe(200);
    const fresh = replaced.json().recoveryCodes as string[];
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(user.recoveryCodes[1]);
    const old = await login({ email: user.email, password: PASSWORD, totp: user.recoveryCodes[1] }, '10.5.0.1');
    expect(old.statusCode).toBe(401);
    const usable = await login({ email: user.email, password: PASSWORD, totp: fresh[0] }, '10.5.0.2');
    expect(usable.json()).toMatchObject({ status: 'authenticated' });
  });

  it('turns MFA off with a second factor, after which a password alone logs in', async () => {
    const user = await withMfa();
    const off = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/disable-mfa',
      headers: bearer(user.tokens.accessToken),
      payload: { code: user.recoveryCodes[0] },
    });
    expect(off.statusCode).toBe(200);
    expect((await login({ email: user.email, password: PASSWORD }, '10.5.1.1')).json()).toMatchObject({
      status: 'authenticated',
    });
  });

  it('lets an administrator reset the MFA of a user who lost every factor, and records who did', async () => {
    const user = await withMfa();
    expect((await login({ email: user.email, password: PASSWORD }, '10.5.2.1')).json()).toMatchObject({
      status: 'mfa-required',
    });
    const byCustomer = await api.app.inject({
      method: 'POST',
      url: `/api/v1/users/${user.userId}/reset-mfa`,
      headers: bearer(user.tokens.accessToken),
      payload: { reason: 'lost phone' },
    });
    expect(byCustomer.statusCode).toBe(403);
    const reset = await api.app.inject({
      method: 'POST',
      url: `/api/v1/users/${user.userId}/reset-mfa`,
      headers: bearer(api.token('admin')),
      payload: { reason: 'lost phone and recovery codes; identity checked by phone call' },
    });
    expect(reset.statusCode).toBe(200);
    expect((await login({ email: user.email, password: PASSWORD }, '10.5.2.2')).json()).toMatchObject({
      status: 'authenticated',
    });
    const log = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/security?user=${user.userId}&limit=50`,
      headers: bearer(api.token('admin')),
    });
    const disabled = log.json().items.find((e: { type: string }) => e.type === 'MfaDisabled');
    expect(JSON.stringify(disabled)).toContain('admin');
  });

  it('changes the password with the current one, keeping this session and ending the others', async () => {
    const user = await register();
    const other = await login({ email: user.email, password: PASSWORD, deviceId: 'tablet' }, '10.5.3.1');
    const otherRefresh = other.json().refreshToken as string;
    const wrong = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(user.tokens.accessToken),
      payload: { currentPassword: 'not my password at all', newPassword: 'a brand new long passphrase 77' },
    });
    expect(wrong.statusCode).toBe(401);
    const changed = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/password',
      headers: bearer(user.tokens.accessToken),
      payload: { currentPassword: PASSWORD, newPassword: 'a brand new long passphrase 77' },
    });
    expect(changed.statusCode).toBe(200);
    expect((await login({ email: user.email, password: PASSWORD }, '10.5.3.2')).statusCode).toBe(401);
    expect(
      (await login({ email: user.email, password: 'a brand new long passphrase 77' }, '10.5.3.3')).statusCode,
    ).toBe(200);
    const revoked = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: otherRefresh },
    });
    expect(revoked.statusCode).toBe(401);
    const kept = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: user.tokens.refreshToken },
    });
    expect(kept.statusCode).toBe(200);
  });
});

describe('lockout, sessions and rate limits', () => {
  it('locks after 5 failures, records it, and lets an admin unlock', async () => {
    const user = await register();
    for (let i = 0; i < 5; i += 1) {
      expect(
        (await login({ email: user.email, password: `wrong password number ${i}` }, `10.3.0.${i}`)).statusCode,
      ).toBe(401);
    }
    const locked = await login({ email: user.email, password: PASSWORD }, '10.3.1.1');
    expect(locked.statusCode).toBe(423);
    expect(locked.json()).toMatchObject({ code: 'ACCOUNT_LOCKED' });
    const unlock = await api.app.inject({
      method: 'POST',
      url: `/api/v1/users/${user.userId}/unlock`,
      headers: bearer(api.token('admin')),
    });
    expect(unlock.statusCode).toBe(200);
    expect((await login({ email: user.email, password: PASSWORD }, '10.3.1.2')).statusCode).toBe(200);
    const log = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/security?user=${user.userId}&limit=50`,
      headers: bearer(api.token('admin')),
    });
    const types = log.json().items.map((e: { type: string }) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['LoginFailed', 'AccountLocked', 'AccountUnlocked', 'LoginSucceeded']),
    );
    const customer = await api.app.inject({
      method: 'GET',
      url: `/api/v1/audit/security?user=${user.userId}`,
      headers: bearer(user.tokens.accessToken),
    });
    expect(customer.statusCode).toBe(403);
  });

  it('lists sessions with their device and revokes one', async () => {
    const user = await register();
    const other = await login({ email: user.email, password: PASSWORD, deviceId: 'phone-7' }, '192.168.7.20');
    const list = await api.app.inject({
      method: 'GET',
      url: '/api/v1/auth/sessions',
      headers: bearer(user.tokens.accessToken),
    });
    const items = list.json().items as { sessionId: string; current: boolean; device: Record<string, unknown> }[];
    expect(items).toHaveLength(2);
    expect(items.find((s) => s.current)?.device).toMatchObject({ userAgent: 'vitest', clientDeviceId: 'laptop-1' });
    const phone = items.find((s) => !s.current);
    expect(phone?.device).toMatchObject({ clientDeviceId: 'phone-7', ipPrefix: '192.168.7.0/24' });
    const revoked = await api.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${phone?.sessionId}`,
      headers: bearer(user.tokens.accessToken),
    });
    expect(revoked.statusCode).toBe(200);
    const refresh = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: other.json().refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    const logout = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: bearer(user.tokens.accessToken),
    });
    expect(logout.statusCode).toBe(200);
    const gone = await api.app.inject({
      method: 'GET',
      url: `/api/v1/accounts/${user.accountId}/balance`,
      headers: bearer(user.tokens.accessToken),
    });
    expect(gone.statusCode).toBe(401);
  });

  it('answers too many login attempts from one address with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof login>> | null = null;
    for (let i = 0; i < 25; i += 1) {
      const response = await login(
        { email: `flood-${i}@khata.example`, password: 'not the password at all' },
        '10.66.0.1',
      );
      statuses.push(response.statusCode);
      if (response.statusCode === 429) limited = response;
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(limited?.headers['retry-after']).toBeDefined();
    expect(limited?.headers['content-type']).toContain('application/problem+json');
    expect(limited?.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });

  it('sends security headers and allows CORS only for configured origins', async () => {
    const allowed = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/auth/login',
      headers: { origin: 'https://portal.khata.example', 'access-control-request-method': 'POST' },
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://portal.khata.example');
    const denied = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/auth/login',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
    const health = await api.app.inject({ method: 'GET', url: '/health' });
    expect(health.headers['x-content-type-options']).toBe('nosniff');
    expect(health.headers['strict-transport-security']).toBeDefined();
  });
});
