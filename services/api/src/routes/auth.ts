import { randomUUID } from 'node:crypto';
import { findState, validateGstin } from '@khata/domain';
import type { IdentityRejection, LoginResult, TokenPair } from '@khata/identity';
import {
  ChangePasswordBody,
  CreateUserBody,
  Done,
  LoginBody,
  LoginResponse,
  MfaSetup,
  RecoveryCodes,
  RefreshBody,
  RegisterBody,
  Registered,
  ResetMfaBody,
  SecondFactorBody,
  SecurityEvents,
  SecurityQuery,
  SessionIdParams,
  SessionList,
  UserCreated,
  UserIdParams,
  VerifyMfaBody,
} from '@khata/schemas/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { requirePrincipal } from '../access.ts';
import { decodeCursor, encodeCursor, pageLimit } from '../pagination.ts';
import { ApiProblem, titleOf } from '../problems.ts';
import { authAccountLimit, authRouteLimit } from '../security.ts';

const problems = {
  400: { $ref: 'Problem#' },
  401: { $ref: 'Problem#' },
  403: { $ref: 'Problem#' },
  404: { $ref: 'Problem#' },
  409: { $ref: 'Problem#' },
  422: { $ref: 'Problem#' },
  423: { $ref: 'Problem#' },
  429: { $ref: 'Problem#' },
  503: { $ref: 'Problem#' },
};
const PUBLIC = { roles: [], public: true } as const;

/** HTTP status of each identity rejection; one message for unknown user and wrong password. */
const STATUS: Record<string, number> = {
  INVALID_CREDENTIALS: 401,
  MFA_REQUIRED: 401,
  MFA_CHALLENGE_INVALID: 401,
  INVALID_MFA_CODE: 401,
  INVALID_REFRESH_TOKEN: 401,
  REFRESH_TOKEN_REUSED: 401,
  SESSION_REVOKED: 401,
  SESSION_EXPIRED: 401,
  INVALID_TOKEN: 401,
  ACCOUNT_LOCKED: 423,
  EMAIL_TAKEN: 409,
  USER_EXISTS: 409,
  MFA_ALREADY_ENABLED: 409,
  MFA_NOT_ENABLED: 409,
  NOT_LOCKED: 409,
  UNKNOWN_USER: 404,
  UNKNOWN_SESSION: 404,
  PASSWORD_TOO_SHORT: 422,
  PASSWORD_TOO_LONG: 422,
  WEAK_PASSWORD: 422,
  INVALID_ROLE: 422,
  MFA_SETUP_NOT_STARTED: 409,
  MFA_SETUP_EXPIRED: 409,
};

function refuse(rejection: IdentityRejection): ApiProblem {
  return new ApiProblem(
    STATUS[rejection.code] ?? 400,
    rejection.code,
    titleOf(rejection.code),
    rejection.message,
    rejection.details === undefined ? {} : { details: { ...rejection.details } },
  );
}

function deviceOf(request: FastifyRequest, deviceId: string | undefined) {
  return { userAgent: request.headers['user-agent'] ?? null, ip: request.ip, clientDeviceId: deviceId ?? null };
}

function tokens(pair: TokenPair, now: Date) {
  return {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    tokenType: 'Bearer' as const,
    expiresIn: Math.max(0, Math.round((Date.parse(pair.accessTokenExpiresAt) - now.getTime()) / 1000)),
    refreshExpiresAt: pair.refreshTokenExpiresAt,
    sessionId: pair.sessionId,
  };
}

function loginAnswer(result: LoginResult, now: Date) {
  if (!result.ok) throw refuse(result.rejection);
  if (result.status === 'mfa-required') {
    return {
      status: 'mfa-required' as const,
      challengeToken: result.challengeToken,
      challengeExpiresAt: result.challengeExpiresAt,
    };
  }
  return { status: 'authenticated' as const, ...tokens(result.tokens, now) };
}

/**
 * Identity (SPEC §12): registration (a user and its customer account in one step), login with MFA,
 * refresh-token rotation, logout, TOTP setup, sessions; admin user management; the security log.
 */
export async function authRoutes(app: FastifyInstance): Promise<void> {
  const { identity } = app.khata;
  const limited = authAccountLimit(app);

  app.post(
    '/auth/register',
    {
      schema: { tags: ['auth'], body: RegisterBody, response: { 201: Registered, ...problems } },
      // Not idempotent by key: an anonymous caller has no scope to keep keys in, and a replayed answer
      // would hand the new user's tokens to whoever presents the key. A retry gets EMAIL_TAKEN instead.
      config: { access: PUBLIC, ...authRouteLimit },
      preHandler: limited,
    },
    async (request, reply) => {
      const body = request.body as Static<typeof RegisterBody>;
      // Everything the account could refuse is checked before the user exists, so a refusal leaves nothing.
      if (findState(body.account.billingAddress.stateCode) === undefined) {
        throw new ApiProblem(
          422,
          'INVALID_STATE_CODE',
          'Invalid state code',
          `no GST state ${body.account.billingAddress.stateCode}`,
          { errors: [{ pointer: '/body/account/billingAddress/stateCode', message: 'is not a GST state code' }] },
        );
      }
      if (body.account.gstin !== undefined) {
        const gstin = validateGstin(body.account.gstin);
        if (!gstin.ok)
          throw new ApiProblem(422, 'INVALID_GSTIN', 'Invalid GSTIN', gstin.reason, {
            errors: [{ pointer: '/body/account/gstin', message: gstin.reason }],
          });
      }
      const accountId = randomUUID();
      const registered = await identity.register(
        { email: body.email, password: body.password, name: body.name, phone: body.phone, accountId },
        { actor: 'anonymous', correlationId: request.id },
      );
      if (!registered.ok) throw refuse(registered.rejection);
      const opened = await app.khata.ledger.execute(
        {
          type: 'OpenAccount',
          commandId: randomUUID(),
          accountId,
          legalName: body.account.legalName,
          contact: { name: body.name, email: body.email, phone: body.phone },
          billingAddress: body.account.billingAddress,
          ...(body.account.gstin === undefined ? {} : { gstin: body.account.gstin }),
          billingMode: 'prepaid',
        },
        { actor: `customer:${registered.userId}`, correlationId: request.id },
      );
      if (opened.status === 'rejected')
        throw new ApiProblem(422, opened.rejection.code, titleOf(opened.rejection.code), opened.rejection.message);
      const login = await identity.login({
        email: body.email,
        password: body.password,
        device: deviceOf(request, body.deviceId),
      });
      const answer = loginAnswer(login, app.khata.clock());
      if (answer.status !== 'authenticated')
        throw new ApiProblem(500, 'INTERNAL', 'Internal error', 'a new user needed MFA');
      const { status: _status, ...pair } = answer;
      return reply.status(201).send({ userId: registered.userId, accountId, tokens: pair });
    },
  );

  app.post(
    '/auth/login',
    {
      schema: { tags: ['auth'], body: LoginBody, response: { 200: LoginResponse, ...problems } },
      config: { access: PUBLIC, ...authRouteLimit },
      preHandler: limited,
    },
    async (request) => {
      const body = request.body as Static<typeof LoginBody>;
      const device = deviceOf(request, body.deviceId);
      const now = app.khata.clock();
      if (body.challengeToken !== undefined) {
        if (body.totp === undefined)
          throw new ApiProblem(400, 'VALIDATION_FAILED', 'Invalid request', 'totp is required with challengeToken', {
            errors: [{ pointer: '/body/totp', message: 'is required' }],
          });
        return loginAnswer(
          await identity.verifyMfa({ challengeToken: body.challengeToken, code: body.totp, device }),
          now,
        );
      }
      if (body.email === undefined || body.password === undefined) {
        throw new ApiProblem(400, 'VALIDATION_FAILED', 'Invalid request', 'email and password are required', {
          errors: [{ pointer: '/body/email', message: 'is required' }],
        });
      }
      const first = await identity.login({ email: body.email, password: body.password, device });
      // MFA on and a code given in the same request: complete the second step at once.
      if (first.ok && first.status === 'mfa-required' && body.totp !== undefined) {
        return loginAnswer(
          await identity.verifyMfa({ challengeToken: first.challengeToken, code: body.totp, device }),
          now,
        );
      }
      return loginAnswer(first, now);
    },
  );

  app.post(
    '/auth/refresh',
    {
      schema: { tags: ['auth'], body: RefreshBody, response: { 200: LoginResponse, ...problems } },
      config: { access: PUBLIC, ...authRouteLimit },
      preHandler: limited,
    },
    async (request) => {
      const body = request.body as Static<typeof RefreshBody>;
      const result = await identity.refresh({
        refreshToken: body.refreshToken,
        device: deviceOf(request, body.deviceId),
      });
      if (!result.ok) throw refuse(result.rejection);
      return { status: 'authenticated' as const, ...tokens(result.tokens, app.khata.clock()) };
    },
  );

  const signedIn = { roles: ['customer', 'admin', 'auditor', 'finance', 'system'] } as const;
  const userOf = (request: FastifyRequest) => {
    const principal = requirePrincipal(request);
    if (principal.sessionId === null)
      throw new ApiProblem(400, 'NO_SESSION', 'No session', 'this route needs a user signed in, not an API token');
    return { userId: principal.userId, sessionId: principal.sessionId };
  };

  app.post(
    '/auth/logout',
    {
      schema: { tags: ['auth'], response: { 200: Done, ...problems } },
      config: { access: { roles: [...signedIn.roles] } },
    },
    async (request) => {
      const user = userOf(request);
      const done = await identity.logout(user, { actor: `user:${user.userId}`, correlationId: request.id });
      if (!done.ok) throw refuse(done.rejection);
      return { ok: true as const };
    },
  );

  app.post(
    '/auth/setup-mfa',
    {
      schema: { tags: ['auth'], response: { 200: MfaSetup, ...problems } },
      config: { access: { roles: [...signedIn.roles] } },
    },
    async (request) => {
      const { userId } = userOf(request);
      const setup = await identity.setupMfa(userId, { actor: `user:${userId}`, correlationId: request.id });
      if (!setup.ok) throw refuse(setup.rejection);
      return { secret: setup.secret, otpauthUri: setup.otpauthUri, qrCodeDataUrl: setup.qrCodeDataUrl };
    },
  );

  app.post(
    '/auth/verify-mfa',
    {
      schema: { tags: ['auth'], body: VerifyMfaBody, response: { 200: RecoveryCodes, ...problems } },
      config: { access: { roles: [...signedIn.roles] }, ...authRouteLimit },
      preHandler: limited,
    },
    async (request) => {
      const { userId } = userOf(request);
      const confirmed = await identity.confirmMfa(
        { userId, code: (request.body as { code: string }).code },
        { actor: `user:${userId}`, correlationId: request.id },
      );
      if (!confirmed.ok) throw refuse(confirmed.rejection);
      return { recoveryCodes: [...confirmed.recoveryCodes] };
    },
  );

  app.post(
    '/auth/disable-mfa',
    {
      schema: { tags: ['auth'], body: SecondFactorBody, response: { 200: Done, ...problems } },
      config: { access: { roles: [...signedIn.roles] }, ...authRouteLimit },
    },
    async (request) => {
      const { userId } = userOf(request);
      const body = request.body as Static<typeof SecondFactorBody>;
      const done = await identity.disableMfa(
        { userId, code: body.code, device: deviceOf(request, body.deviceId) },
        { actor: `user:${userId}`, correlationId: request.id },
      );
      if (!done.ok) throw refuse(done.rejection);
      return { ok: true as const };
    },
  );

  app.post(
    '/auth/recovery-codes',
    {
      schema: { tags: ['auth'], body: SecondFactorBody, response: { 200: RecoveryCodes, ...problems } },
      config: { access: { roles: [...signedIn.roles] }, ...authRouteLimit },
    },
    async (request) => {
      const { userId } = userOf(request);
      const body = request.body as Static<typeof SecondFactorBody>;
      const replaced = await identity.regenerateRecoveryCodes(
        { userId, code: body.code, device: deviceOf(request, body.deviceId) },
        { actor: `user:${userId}`, correlationId: request.id },
      );
      if (!replaced.ok) throw refuse(replaced.rejection);
      return { recoveryCodes: [...replaced.recoveryCodes] };
    },
  );

  app.post(
    '/auth/password',
    {
      schema: { tags: ['auth'], body: ChangePasswordBody, response: { 200: Done, ...problems } },
      config: { access: { roles: [...signedIn.roles] }, ...authRouteLimit },
    },
    async (request) => {
      const { userId, sessionId } = userOf(request);
      const body = request.body as Static<typeof ChangePasswordBody>;
      const done = await identity.changePassword(
        {
          userId,
          currentPassword: body.currentPassword,
          newPassword: body.newPassword,
          sessionId,
          device: deviceOf(request, body.deviceId),
        },
        { actor: `user:${userId}`, correlationId: request.id },
      );
      if (!done.ok) throw refuse(done.rejection);
      return { ok: true as const };
    },
  );

  app.get(
    '/auth/sessions',
    {
      schema: { tags: ['auth'], response: { 200: SessionList, ...problems } },
      config: { access: { roles: [...signedIn.roles] } },
    },
    async (request) => {
      const { userId, sessionId } = userOf(request);
      const sessions = await identity.listSessions(userId);
      return {
        items: sessions.map((session) => ({
          sessionId: session.sessionId,
          status: session.status,
          current: session.sessionId === sessionId,
          startedAt: session.startedAt,
          lastSeenAt: session.lastRefreshedAt ?? session.startedAt,
          device: { ...(session.lastDevice ?? session.device) },
        })),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      schema: { tags: ['auth'], params: SessionIdParams, response: { 200: Done, ...problems } },
      config: { access: { roles: [...signedIn.roles] } },
    },
    async (request) => {
      const { userId } = userOf(request);
      const { id } = request.params as { id: string };
      const done = await identity.revokeSession(
        { userId, sessionId: id },
        { actor: `user:${userId}`, correlationId: request.id },
      );
      if (!done.ok) throw refuse(done.rejection);
      return { ok: true as const };
    },
  );

  app.post(
    '/users',
    {
      schema: { tags: ['users'], body: CreateUserBody, response: { 201: UserCreated, ...problems } },
      config: { access: { roles: ['admin'] }, idempotent: true },
    },
    async (request, reply) => {
      const principal = requirePrincipal(request);
      const created = await identity.createUser(request.body as Static<typeof CreateUserBody>, {
        actor: `admin:${principal.userId}`,
        correlationId: request.id,
      });
      if (!created.ok) throw refuse(created.rejection);
      return reply.status(201).send({ userId: created.userId });
    },
  );

  app.post(
    '/users/:id/unlock',
    {
      schema: { tags: ['users'], params: UserIdParams, response: { 200: Done, ...problems } },
      config: { access: { roles: ['admin'] } },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const done = await identity.unlockUser(
        { userId: id, reason: `unlocked by ${principal.userId}` },
        { actor: `admin:${principal.userId}`, correlationId: request.id },
      );
      if (!done.ok) throw refuse(done.rejection);
      return { ok: true as const };
    },
  );

  app.post(
    '/users/:id/reset-mfa',
    {
      schema: { tags: ['users'], params: UserIdParams, body: ResetMfaBody, response: { 200: Done, ...problems } },
      config: { access: { roles: ['admin'] } },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const { id } = request.params as { id: string };
      const { reason } = request.body as Static<typeof ResetMfaBody>;
      const done = await identity.resetMfa(
        { userId: id, reason },
        { actor: `admin:${principal.userId}`, correlationId: request.id },
      );
      if (!done.ok) throw refuse(done.rejection);
      return { ok: true as const };
    },
  );

  app.get(
    '/audit/security',
    {
      schema: { tags: ['audit'], querystring: SecurityQuery, response: { 200: SecurityEvents, ...problems } },
      config: { access: { roles: ['admin', 'auditor'] } },
    },
    async (request) => {
      const query = request.query as Static<typeof SecurityQuery>;
      const limit = pageLimit(query.limit);
      if (query.user !== undefined) {
        const after = decodeCursor<{ version: string }>(query.cursor);
        const page = await identity.securityEvents(query.user, {
          fromVersion: after === null ? 1n : BigInt(after.version),
          maxCount: limit,
        });
        return {
          items: page.events.map((event) => ({ ...event, userId: query.user })),
          nextCursor: page.nextVersion === null ? null : encodeCursor({ version: page.nextVersion.toString() }),
        };
      }
      const after = decodeCursor<{ position: string }>(query.cursor);
      const feed = await identity.securityFeed({ after: (after?.position ?? null) as never, maxCount: limit });
      return {
        items: feed.events.map((event) => ({ ...event })),
        nextCursor: feed.events.length === limit && feed.last !== null ? encodeCursor({ position: feed.last }) : null,
      };
    },
  );
}
