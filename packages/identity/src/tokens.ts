import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { UserRole } from '@khata/schemas';
import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { SIGNING_ALGORITHM, type SigningKeys } from './keys.ts';
import { type IdentityRejection, rejectIdentity } from './user/rejections.ts';

/** RFC 9068's media type for JWT access tokens: a token of another kind signed by the same keys is refused. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const MFA_CHALLENGE_TOKEN_TYPE = 'mfa-challenge+jwt';
/** Verification accepts exactly this list: no `none`, no HS256 with a public key passed off as a secret. */
export const ACCEPTED_ALGORITHMS: readonly string[] = [SIGNING_ALGORITHM];
export const ACCESS_TOKEN_SECONDS_DEFAULT = 15 * 60;
export const MFA_CHALLENGE_SECONDS_DEFAULT = 5 * 60;
/** Skew allowed between replicas' clocks when checking `exp`/`nbf`/`iat`. */
export const CLOCK_TOLERANCE_SECONDS_DEFAULT = 5;

const ROLES: readonly UserRole[] = ['customer', 'admin', 'auditor', 'finance', 'system'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECOND_MS = 1_000;

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly accessTokenSeconds: number;
  readonly mfaChallengeSeconds: number;
  readonly clockToleranceSeconds: number;
}

/** Who a verified access token speaks for. */
export interface Principal {
  readonly userId: string;
  readonly role: UserRole;
  /** The customer's account; null for staff roles. */
  readonly accountId: string | null;
  readonly sessionId: string;
}

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: string;
}

/** Signs and verifies the JWTs: access tokens and the short-lived MFA challenge tokens. */
export class TokenService {
  readonly #keys: SigningKeys;
  readonly #settings: TokenSettings;

  constructor(keys: SigningKeys, settings: TokenSettings) {
    this.#keys = keys;
    this.#settings = settings;
  }

  async issueAccessToken(principal: Principal, now: Date): Promise<IssuedToken> {
    const claims: JWTPayload = { role: principal.role, sid: principal.sessionId };
    if (principal.accountId !== null) claims.accountId = principal.accountId;
    return this.#sign(claims, {
      type: ACCESS_TOKEN_TYPE,
      audience: this.#settings.audience,
      subject: principal.userId,
      lifetimeSeconds: this.#settings.accessTokenSeconds,
      now,
    });
  }

  /** The principal of a valid access token, or INVALID_TOKEN (with `details.reason`). */
  async verifyAccessToken(token: string, now: Date): Promise<Principal | IdentityRejection> {
    const payload = await this.#verify(token, ACCESS_TOKEN_TYPE, this.#settings.audience, ['sid', 'role'], now);
    if (!('sub' in payload)) return payload as IdentityRejection;
    const { sub, sid, role, accountId } = payload;
    const roleValid = typeof role === 'string' && (ROLES as readonly string[]).includes(role);
    const accountValid =
      role === 'customer' ? typeof accountId === 'string' && UUID.test(accountId) : accountId === undefined;
    if (
      !(
        typeof sub === 'string' &&
        UUID.test(sub) &&
        typeof sid === 'string' &&
        UUID.test(sid) &&
        roleValid &&
        accountValid
      )
    ) {
      return invalidToken('claims');
    }
    return {
      userId: sub,
      role: role as UserRole,
      accountId: (accountId as string | undefined) ?? null,
      sessionId: sid,
    };
  }

  /** The token that carries a password-verified login to its second factor (`epoch`: see UserState). */
  issueMfaChallenge(userId: string, epoch: number, now: Date): Promise<IssuedToken> {
    return this.#sign(
      { epoch },
      {
        type: MFA_CHALLENGE_TOKEN_TYPE,
        audience: this.#challengeAudience(),
        subject: userId,
        lifetimeSeconds: this.#settings.mfaChallengeSeconds,
        now,
      },
    );
  }

  async verifyMfaChallenge(
    token: string,
    now: Date,
  ): Promise<{ readonly userId: string; readonly epoch: number } | IdentityRejection> {
    const payload = await this.#verify(token, MFA_CHALLENGE_TOKEN_TYPE, this.#challengeAudience(), ['epoch'], now);
    if (!('sub' in payload))
      return rejectIdentity('MFA_CHALLENGE_INVALID', 'the MFA challenge is not valid: log in again');
    const { sub, epoch } = payload;
    if (!(typeof sub === 'string' && UUID.test(sub) && Number.isSafeInteger(epoch) && (epoch as number) >= 0)) {
      return rejectIdentity('MFA_CHALLENGE_INVALID', 'the MFA challenge is not valid: log in again');
    }
    return { userId: sub, epoch: epoch as number };
  }

  #challengeAudience(): string {
    return `${this.#settings.audience}:mfa-challenge`;
  }

  async #sign(
    claims: JWTPayload,
    options: {
      readonly type: string;
      readonly audience: string;
      readonly subject: string;
      readonly lifetimeSeconds: number;
      readonly now: Date;
    },
  ): Promise<IssuedToken> {
    const { kid, privateKey } = await this.#keys.signingKey();
    const issuedAt = Math.floor(options.now.getTime() / SECOND_MS);
    const expiresAt = issuedAt + options.lifetimeSeconds;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid, typ: options.type })
      .setIssuer(this.#settings.issuer)
      .setAudience(options.audience)
      .setSubject(options.subject)
      .setJti(randomUUID())
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(privateKey);
    return { token, expiresAt: new Date(expiresAt * SECOND_MS).toISOString() };
  }

  async #verify(
    token: string,
    type: string,
    audience: string,
    claims: readonly string[],
    now: Date,
  ): Promise<JWTPayload | IdentityRejection> {
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          const key = typeof header.kid === 'string' ? await this.#keys.verificationKey(header.kid) : null;
          if (key === null) throw new errors.JWKSNoMatchingKey();
          return key;
        },
        {
          algorithms: [...ACCEPTED_ALGORITHMS],
          issuer: this.#settings.issuer,
          audience,
          typ: type,
          currentDate: now,
          clockTolerance: this.#settings.clockToleranceSeconds,
          requiredClaims: ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sub', ...claims],
        },
      );
      return payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired) return invalidToken('expired');
      if (error instanceof errors.JOSEError) return invalidToken(error.code);
      throw error;
    }
  }
}

function invalidToken(reason: string): IdentityRejection {
  return rejectIdentity('INVALID_TOKEN', 'the token is not valid', { reason });
}

// --- refresh tokens --------------------------------------------------------------------------------

const REFRESH_TOKEN_PREFIX = 'rt1';
const REFRESH_SECRET_BYTES = 32;
const REFRESH_TOKEN = new RegExp(
  `^${REFRESH_TOKEN_PREFIX}\\.(${UUID.source.slice(1, -1)})\\.(${UUID.source.slice(1, -1)})\\.([A-Za-z0-9_-]{43})$`,
);

/**
 * A new refresh token: `rt1.<user id>.<session id>.<256 random bits>`. Opaque to clients (not a JWT, no
 * claims to trust); the ids only route it to its user stream and session, where its SHA-256 must match.
 */
export function newRefreshToken(userId: string, sessionId: string): { readonly token: string; readonly hash: string } {
  const token = `${REFRESH_TOKEN_PREFIX}.${userId}.${sessionId}.${randomBytes(REFRESH_SECRET_BYTES).toString('base64url')}`;
  return { token, hash: hashRefreshToken(token) };
}

export function parseRefreshToken(token: string): { readonly userId: string; readonly sessionId: string } | null {
  const match = REFRESH_TOKEN.exec(token);
  return match === null ? null : { userId: match[1] as string, sessionId: match[2] as string };
}

/** Refresh tokens carry 256 random bits: a plain SHA-256 is enough to store them (no offline guessing). */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
