import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { SigningKeys } from './keys.ts';
import { TestClock } from './test-support.ts';
import {
  hashRefreshToken,
  MFA_CHALLENGE_SECONDS_DEFAULT,
  newRefreshToken,
  type Principal,
  parseRefreshToken,
  TokenService,
  type TokenSettings,
} from './tokens.ts';

const settings: TokenSettings = {
  issuer: 'khata',
  audience: 'khata-api',
  accessTokenSeconds: 900,
  mfaChallengeSeconds: MFA_CHALLENGE_SECONDS_DEFAULT,
  clockToleranceSeconds: 5,
};
const principal: Principal = {
  userId: randomUUID(),
  role: 'customer',
  accountId: randomUUID(),
  sessionId: randomUUID(),
};

async function service(clock = new TestClock(), directory: string | null = null) {
  const keys = await SigningKeys.open({
    directory,
    clock: clock.now,
    retireAfterSeconds: 1_000,
    rotateAfterSeconds: null,
  });
  return { keys, tokens: new TokenService(keys, settings), clock };
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (token: string) => {
  const [header, payload] = token.split('.') as [string, string];
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
  };
};

describe('access tokens', () => {
  it('carry iss, aud, exp, nbf, iat, jti, sub, role, accountId and sid, and verify back to the principal', async () => {
    const { tokens, clock } = await service();
    const issued = await tokens.issueAccessToken(principal, clock.now());
    const { header, payload } = decode(issued.token);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(typeof header.kid).toBe('string');
    const issuedAt = Math.floor(clock.now().getTime() / 1_000);
    expect(payload).toMatchObject({
      iss: 'khata',
      aud: 'khata-api',
      sub: principal.userId,
      role: 'customer',
      accountId: principal.accountId,
      sid: principal.sessionId,
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + 900,
    });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(issued.expiresAt).toBe(new Date((issuedAt + 900) * 1_000).toISOString());
    expect(await tokens.verifyAccessToken(issued.token, clock.now())).toEqual(principal);
  });

  it('leaves accountId out for staff', async () => {
    const { tokens, clock } = await service();
    const staff: Principal = { ...principal, role: 'auditor', accountId: null };
    const issued = await tokens.issueAccessToken(staff, clock.now());
    expect(decode(issued.token).payload).not.toHaveProperty('accountId');
    expect(await tokens.verifyAccessToken(issued.token, clock.now())).toEqual(staff);
  });

  it('refuses a token whose payload was tampered with', async () => {
    const { tokens, clock } = await service();
    const [header, , signature] = (await tokens.issueAccessToken(principal, clock.now())).token.split('.');
    const forged = `${header}.${base64url({ ...decode((await tokens.issueAccessToken(principal, clock.now())).token).payload, role: 'admin' })}.${signature}`;
    expect(await tokens.verifyAccessToken(forged, clock.now())).toMatchObject({
      code: 'INVALID_TOKEN',
      details: { reason: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' },
    });
  });

  it('refuses an expired token (past the allowed skew) and one not valid yet', async () => {
    const { tokens, clock } = await service();
    const issued = await tokens.issueAccessToken(principal, clock.now());
    clock.advanceSeconds(900 + 5 - 1);
    expect(await tokens.verifyAccessToken(issued.token, clock.now())).toEqual(principal);
    clock.advanceSeconds(1);
    expect(await tokens.verifyAccessToken(issued.token, clock.now())).toMatchObject({
      code: 'INVALID_TOKEN',
      details: { reason: 'expired' },
    });
    const early = new TestClock();
    early.advanceSeconds(-60);
    expect(
      await tokens.verifyAccessToken(
        (await tokens.issueAccessToken(principal, new TestClock().now())).token,
        early.now(),
      ),
    ).toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('refuses a token signed with another key, whether it names its own kid or ours', async () => {
    const ours = await service();
    const theirs = await service();
    const foreign = await theirs.tokens.issueAccessToken(principal, theirs.clock.now());
    expect(await ours.tokens.verifyAccessToken(foreign.token, ours.clock.now())).toMatchObject({
      code: 'INVALID_TOKEN',
      details: { reason: 'ERR_JWKS_NO_MATCHING_KEY' },
    });
    const { kid } = await ours.keys.signingKey();
    const { privateKey } = await theirs.keys.signingKey();
    const impostor = await new SignJWT({ role: 'admin', sid: principal.sessionId })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
      .setIssuer('khata')
      .setAudience('khata-api')
      .setSubject(principal.userId)
      .setJti(randomUUID())
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect(await ours.tokens.verifyAccessToken(impostor, new Date())).toMatchObject({
      code: 'INVALID_TOKEN',
      details: { reason: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' },
    });
  });

  it("refuses `alg: none`, and HS256 tokens MAC'd with the public key where EdDSA is expected", async () => {
    const { tokens, keys, clock } = await service();
    const legit = decode((await tokens.issueAccessToken(principal, clock.now())).token);
    const payload = base64url({ ...legit.payload, role: 'admin' });
    const unsigned = `${base64url({ alg: 'none', typ: 'at+jwt', kid: legit.header.kid })}.${payload}.`;
    expect(await tokens.verifyAccessToken(unsigned, clock.now())).toMatchObject({ code: 'INVALID_TOKEN' });

    const { kid } = await keys.signingKey();
    const publicKey = await keys.verificationKey(kid);
    const jwk = keys.publicJwks().keys[0];
    if (publicKey === null || jwk === undefined) throw new Error('no public key');
    const pem = await exportSPKI(publicKey);
    for (const secret of [pem, Buffer.from(String(jwk.x), 'base64url'), JSON.stringify(jwk)]) {
      const header = base64url({ alg: 'HS256', typ: 'at+jwt', kid });
      const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      expect(await tokens.verifyAccessToken(`${header}.${payload}.${mac}`, clock.now())).toMatchObject({
        code: 'INVALID_TOKEN',
        details: { reason: 'ERR_JOSE_ALG_NOT_ALLOWED' },
      });
    }
  });

  it('refuses another audience or issuer, and a token missing a required claim', async () => {
    const { tokens, keys, clock } = await service();
    const { kid, privateKey } = await keys.signingKey();
    const sign = (claims: Record<string, unknown>, audience: string, issuer: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(principal.userId)
        .setJti(randomUUID())
        .setIssuedAt(clock.now())
        .setNotBefore(clock.now())
        .setExpirationTime(new Date(clock.now().getTime() + 60_000))
        .sign(privateKey);
    const claims = { role: 'customer', sid: principal.sessionId, accountId: principal.accountId };
    expect(await tokens.verifyAccessToken(await sign(claims, 'khata-api', 'khata'), clock.now())).toEqual(principal);
    for (const token of [
      await sign(claims, 'another-api', 'khata'),
      await sign(claims, 'khata-api', 'someone-else'),
      await sign({ role: 'customer', accountId: principal.accountId }, 'khata-api', 'khata'),
      await sign({ ...claims, role: 'superuser' }, 'khata-api', 'khata'),
      await sign({ ...claims, role: 'customer', accountId: undefined }, 'khata-api', 'khata'),
    ]) {
      expect(await tokens.verifyAccessToken(token, clock.now())).toMatchObject({ code: 'INVALID_TOKEN' });
    }
  });

  it('keeps MFA challenge tokens and access tokens apart', async () => {
    const { tokens, clock } = await service();
    const challenge = await tokens.issueMfaChallenge(principal.userId, 3, clock.now());
    expect(await tokens.verifyAccessToken(challenge.token, clock.now())).toMatchObject({ code: 'INVALID_TOKEN' });
    expect(await tokens.verifyMfaChallenge(challenge.token, clock.now())).toEqual({
      userId: principal.userId,
      epoch: 3,
    });
    const access = await tokens.issueAccessToken(principal, clock.now());
    expect(await tokens.verifyMfaChallenge(access.token, clock.now())).toMatchObject({ code: 'MFA_CHALLENGE_INVALID' });
    clock.advanceSeconds(5 * 60 + 5);
    expect(await tokens.verifyMfaChallenge(challenge.token, clock.now())).toMatchObject({
      code: 'MFA_CHALLENGE_INVALID',
    });
  });
});

describe('signing keys', () => {
  const directories: string[] = [];
  afterEach(async () => {
    for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
  });
  const keyDirectory = async () => {
    const directory = join(await mkdtemp(join(tmpdir(), 'khata-keys-')), 'keys');
    directories.push(directory);
    return directory;
  };

  it('rotate: the new key signs, the old one verifies until it retires', async () => {
    const { tokens, keys, clock } = await service();
    const before = await tokens.issueAccessToken(principal, clock.now());
    const oldKid = (await keys.signingKey()).kid;
    const newKid = await keys.rotate();
    expect(newKid).not.toBe(oldKid);
    const after = await tokens.issueAccessToken(principal, clock.now());
    expect(decode(after.token).header.kid).toBe(newKid);
    expect(await tokens.verifyAccessToken(before.token, clock.now())).toEqual(principal);
    expect(keys.publicJwks().keys.map((key) => key.kid)).toEqual([oldKid, newKid]);
    clock.advanceSeconds(1_000);
    expect(await keys.verificationKey(oldKid)).toBeNull();
    expect(await keys.verificationKey(newKid)).not.toBeNull();
    expect(keys.publicJwks().keys.map((key) => key.kid)).toEqual([newKid]);
  });

  it('publishes public keys only', async () => {
    const { keys } = await service();
    const [jwk] = keys.publicJwks().keys;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwk).not.toHaveProperty('d');
  });

  it('creates the key directory with a first key on first start, private to its owner, and reuses it', async () => {
    const directory = await keyDirectory();
    const clock = new TestClock();
    const first = await service(clock, directory);
    const { kid } = await first.keys.signingKey();
    expect((await stat(directory)).mode & 0o777).toBe(0o700);
    const files = await readdir(directory);
    expect(files).toEqual([`ed25519-${kid}.json`]);
    expect((await stat(join(directory, files[0] as string))).mode & 0o777).toBe(0o600);
    const issued = await first.tokens.issueAccessToken(principal, clock.now());
    const restarted = await service(clock, directory);
    expect((await restarted.keys.signingKey()).kid).toBe(kid);
    expect(await restarted.tokens.verifyAccessToken(issued.token, clock.now())).toEqual(principal);
  });

  it('lets another process verify tokens signed with a key it rotated in, and retires old files', async () => {
    const directory = await keyDirectory();
    const clock = new TestClock();
    const replicaA = await service(clock, directory);
    const replicaB = await service(clock, directory);
    const oldKid = (await replicaA.keys.signingKey()).kid;
    await replicaA.keys.rotate();
    const fromNewKey = await replicaA.tokens.issueAccessToken(principal, clock.now());
    clock.advanceSeconds(6);
    expect(await replicaB.tokens.verifyAccessToken(fromNewKey.token, clock.now())).toEqual(principal);
    clock.advanceSeconds(1_000);
    await replicaA.keys.rotate();
    expect((await readdir(directory)).some((name) => name.includes(oldKid))).toBe(false);
  });

  it('rotates by itself once the signing key reaches its configured age', async () => {
    const clock = new TestClock();
    const keys = await SigningKeys.open({
      directory: null,
      clock: clock.now,
      retireAfterSeconds: 1_000,
      rotateAfterSeconds: 86_400,
    });
    const first = (await keys.signingKey()).kid;
    clock.advanceSeconds(86_399);
    expect((await keys.signingKey()).kid).toBe(first);
    clock.advanceSeconds(1);
    expect((await keys.signingKey()).kid).not.toBe(first);
    expect(await keys.verificationKey(first)).not.toBeNull();
  });
});

describe('refresh tokens', () => {
  it('are opaque random strings routed to their user and session, stored as SHA-256', () => {
    const userId = randomUUID();
    const sessionId = randomUUID();
    const first = newRefreshToken(userId, sessionId);
    const second = newRefreshToken(userId, sessionId);
    expect(first.token).not.toBe(second.token);
    expect(first.token.split('.')).toHaveLength(4);
    expect(first.hash).toBe(hashRefreshToken(first.token));
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(parseRefreshToken(first.token)).toEqual({ userId, sessionId });
    expect(parseRefreshToken(`${first.token}x`)).toBeNull();
    expect(parseRefreshToken('eyJhbGciOiJub25lIn0.e30.')).toBeNull();
  });
});
