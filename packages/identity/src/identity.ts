import { randomUUID } from 'node:crypto';
import type { KhataConfig } from '@khata/config';
import type { EventStore, Position, RecordedEvent } from '@khata/event-store';
import { type ChainReport, type CommandMeta, InvalidCommand, verifyStream } from '@khata/ledger';
import { createValidator, type MfaProof, RegisterUser, type UserCommand, type UserRole } from '@khata/schemas';
import { toDataURL } from 'qrcode';
import { type DeviceInput, deviceFingerprint } from './device.ts';
import { EmailRegistry } from './email-registry.ts';
import { KEY_RELOAD_INTERVAL_SECONDS, SigningKeys } from './keys.ts';
import { checkPasswordPolicy, PasswordHasher, type ScryptCost } from './passwords.ts';
import { generateRecoveryCodes, hashRecoveryCode } from './recovery-codes.ts';
import { SecretBox } from './secret-box.ts';
import { DEFAULT_IDENTITY_SETTINGS, type IdentitySettings, identitySettingsFromConfig } from './settings.ts';
import { hashRefreshToken, newRefreshToken, type Principal, parseRefreshToken, TokenService } from './tokens.ts';
import { generateTotpSecret, looksLikeTotpCode, totpUri, verifyTotp } from './totp.ts';
import { createUserDecider, failureOf } from './user/decide.ts';
import { normalizeEmail } from './user/email.ts';
import { type IdentityRejection, INVALID_CREDENTIALS, rejectIdentity } from './user/rejections.ts';
import { isLocked, type Session, sessionEnded } from './user/state.ts';
import { type LoadedUser, USER_STREAM_PREFIX, type UserOutcome, UserRepository, userStream } from './user-store.ts';

/** Success with its fields, or a rejection the caller maps to a response (never thrown). */
export type Outcome<T extends object = object> =
  | ({ readonly ok: true } & T)
  | { readonly ok: false; readonly rejection: IdentityRejection };

export interface TokenPair {
  readonly tokenType: 'Bearer';
  readonly accessToken: string;
  readonly accessTokenExpiresAt: string;
  /** Opaque; exchange it at `refresh` for a new pair. Shown once: only its hash is stored. */
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: string;
  readonly sessionId: string;
}

export type LoginResult =
  | { readonly ok: true; readonly status: 'authenticated'; readonly principal: Principal; readonly tokens: TokenPair }
  | {
      readonly ok: true;
      readonly status: 'mfa-required';
      /** Present it to `verifyMfa` with a code within `challengeExpiresAt`. */
      readonly challengeToken: string;
      readonly challengeExpiresAt: string;
    }
  | { readonly ok: false; readonly rejection: IdentityRejection };

export interface RegisterInput {
  readonly email: string;
  readonly password: string;
  readonly name: string;
  readonly phone?: string | null;
  /** The customer account the route created for this user. */
  readonly accountId: string;
  readonly userId?: string;
  /** Keep it across retries of the same registration (e.g. from an Idempotency-Key). */
  readonly commandId?: string;
}

export interface CreateUserInput {
  readonly email: string;
  readonly password: string;
  readonly name: string;
  readonly phone?: string | null;
  readonly role: Exclude<UserRole, 'customer'>;
  readonly userId?: string;
  readonly commandId?: string;
}

export interface SessionView {
  readonly sessionId: string;
  readonly status: 'active' | 'revoked' | 'expired';
  readonly startedAt: string;
  readonly lastRefreshedAt: string | null;
  readonly refreshExpiresAt: string;
  readonly endsAt: string;
  readonly revokedAt: string | null;
  readonly revokedReason: string | null;
  readonly device: Session['device'];
  readonly lastDevice: Session['lastDevice'];
}

export interface UserSummary {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly phone: string | null;
  readonly role: UserRole;
  readonly accountId: string | null;
  readonly registeredAt: string;
  readonly mfa: 'off' | 'pending' | 'on';
  readonly recoveryCodesRemaining: number;
  /** Set while the user is locked out. */
  readonly lockedUntil: string | null;
}

/** One event of a user's security log, with every secret (hashes, ciphertexts) left out. */
export interface SecurityEvent {
  readonly eventId: string;
  readonly version: string;
  readonly type: string;
  readonly recordedAt: string;
  readonly actor: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface IdentityOptions {
  readonly store: EventStore;
  readonly keys: SigningKeys;
  readonly secrets: SecretBox;
  /** Every decision, token and TOTP check takes its time from here. */
  readonly clock: () => Date;
  readonly settings?: IdentitySettings;
  /** scrypt costs for new hashes (tests lower them; production keeps the default). */
  readonly passwordCost?: ScryptCost;
}

const validateRegistration = createValidator<UserCommand>(RegisterUser);

/** Events of one security-log page, at most. */
export const SECURITY_EVENTS_PAGE_MAX = 500;
/** Unknown addresses whose failed logins are counted (so they lock like real users); oldest leave first. */
export const UNKNOWN_EMAILS_TRACKED_MAX = 10_000;
const SECOND_MS = 1_000;
/** Fields of user events that hold secrets in some form: never shown by `securityEvents`. */
const SECRET_FIELDS = new Set([
  'passwordHash',
  'refreshTokenHash',
  'tokenHash',
  'codeHash',
  'codeHashes',
  'secretCiphertext',
]);

/**
 * Identity for Khata's API (SPEC §12): users, passwords, tokens, MFA, sessions and lockout. Each
 * method is what one route does; each returns an outcome value (rejections are not exceptions). The
 * routes own HTTP: status codes, cookies, rate limits, reading the client address.
 *
 * Invariants: a user's stream is the only place a user lives (no read model); every decision is the
 * pure decider's, with time from the injected clock; unknown e-mail addresses and wrong passwords
 * cost the same scrypt work and get the same answer, and even lock the same way.
 */
export class Identity {
  readonly settings: IdentitySettings;
  readonly keys: SigningKeys;
  readonly #store: EventStore;
  readonly #secrets: SecretBox;
  readonly #clock: () => Date;
  readonly #users: UserRepository;
  readonly #emails: EmailRegistry;
  readonly #passwords: PasswordHasher;
  readonly #tokens: TokenService;
  readonly #unknownEmails = new Map<string, { failuresMs: number[]; lockedUntilMs: number }>();

  constructor(options: IdentityOptions) {
    this.settings = options.settings ?? DEFAULT_IDENTITY_SETTINGS;
    this.keys = options.keys;
    this.#store = options.store;
    this.#secrets = options.secrets;
    this.#clock = options.clock;
    this.#users = new UserRepository({
      store: options.store,
      decider: createUserDecider(this.settings.rules),
      clock: options.clock,
    });
    this.#emails = new EmailRegistry({ store: options.store, users: this.#users, clock: options.clock });
    this.#passwords = new PasswordHasher(options.passwordCost);
    this.#tokens = new TokenService(options.keys, this.settings);
  }

  /**
   * Opens the key directory (`null`: keys in memory, for tests and one-off tools) and builds the service.
   * Signing keys retire once every token they signed has expired.
   */
  static async open(options: {
    readonly store: EventStore;
    readonly clock: () => Date;
    readonly keysDirectory: string | null;
    readonly keyRotationSeconds?: number | null;
    readonly settings?: IdentitySettings;
    readonly passwordCost?: ScryptCost;
  }): Promise<Identity> {
    const settings = options.settings ?? DEFAULT_IDENTITY_SETTINGS;
    const keys = await Identity.openKeys(options, settings);
    const secrets = options.keysDirectory === null ? SecretBox.generate() : await SecretBox.open(options.keysDirectory);
    return new Identity({
      store: options.store,
      keys,
      secrets,
      clock: options.clock,
      settings,
      ...(options.passwordCost === undefined ? {} : { passwordCost: options.passwordCost }),
    });
  }

  /**
   * The token signing keys of a key directory, without the rest of the service: for `khata keys`
   * (list them, or rotate now; other processes pick a new key up on their next reload).
   */
  static openKeys(
    options: {
      readonly keysDirectory: string | null;
      readonly clock: () => Date;
      readonly keyRotationSeconds?: number | null;
    },
    settings: IdentitySettings = DEFAULT_IDENTITY_SETTINGS,
  ): Promise<SigningKeys> {
    return SigningKeys.open({
      directory: options.keysDirectory,
      clock: options.clock,
      retireAfterSeconds: retireAfterSeconds(settings),
      rotateAfterSeconds: options.keyRotationSeconds ?? null,
    });
  }

  /** The service as Khata's configuration describes it (JWT_*, LOCKOUT_*; keys in JWT_KEYS_DIR). */
  static openFromConfig(options: {
    readonly config: KhataConfig;
    readonly store: EventStore;
    readonly clock: () => Date;
  }): Promise<Identity> {
    return Identity.open({
      store: options.store,
      clock: options.clock,
      keysDirectory: options.config.jwt.keysDir,
      keyRotationSeconds: options.config.jwt.keyRotationSeconds,
      settings: identitySettingsFromConfig(options.config),
    });
  }

  // --- users ---------------------------------------------------------------------------------------

  /** Self-registration of a customer, linked to the account the route opened for them. */
  register(input: RegisterInput, meta?: CommandMeta): Promise<Outcome<{ readonly userId: string }>> {
    return this.#createUser({ ...input, role: 'customer', accountId: input.accountId }, meta);
  }

  /** An administrator creates a staff user (admin, auditor, finance, system). */
  createUser(input: CreateUserInput, meta: CommandMeta): Promise<Outcome<{ readonly userId: string }>> {
    if ((input.role as UserRole) === 'customer') {
      return Promise.resolve(failure(rejectIdentity('INVALID_ROLE', 'customers register with their account')));
    }
    return this.#createUser({ ...input, accountId: null }, meta);
  }

  async #createUser(
    input: Omit<CreateUserInput, 'role'> & { readonly role: UserRole; readonly accountId: string | null },
    meta: CommandMeta | undefined,
  ): Promise<Outcome<{ readonly userId: string }>> {
    const userId = input.userId ?? randomUUID();
    const commandId = input.commandId ?? randomUUID();
    const actor = meta ?? { actor: `user:${userId}` };
    const weak = checkPasswordPolicy(input.password, [input.email, input.name]);
    if (weak !== null) return failure(weak);
    const command: UserCommand = {
      type: 'RegisterUser',
      commandId,
      userId,
      email: input.email.trim(),
      name: input.name.trim(),
      phone: input.phone ?? null,
      role: input.role,
      accountId: input.accountId,
      // Hashed before the address is claimed: the claim then waits the shortest time for its user.
      passwordHash: await this.#passwords.hash(input.password),
    };
    // A malformed address or phone is refused before the address is claimed.
    const checked = validateRegistration(command);
    if (!checked.ok) throw new InvalidCommand(checked.issues);
    const normalized = normalizeEmail(input.email);
    if (!(await this.#emails.claim(normalized, userId, commandId, actor))) {
      return failure(rejectIdentity('EMAIL_TAKEN', 'a user with this e-mail address exists'));
    }
    let outcome: UserOutcome;
    try {
      outcome = await this.#users.execute(userId, () => command, actor);
    } catch (error) {
      await this.#emails.release(normalized, userId, commandId, actor);
      throw error;
    }
    if (outcome.status === 'rejected') {
      await this.#emails.release(normalized, userId, commandId, actor);
      return failure(outcome.rejection);
    }
    return { ok: true, userId };
  }

  /** The user's profile and security status; null when there is no such user. */
  async user(userId: string): Promise<UserSummary | null> {
    const { state } = await this.#users.load(userId);
    const profile = state.profile;
    if (profile === null) return null;
    return {
      userId: profile.userId,
      email: profile.email,
      name: profile.name,
      phone: profile.phone,
      role: profile.role,
      accountId: profile.accountId,
      registeredAt: profile.registeredAt,
      mfa: state.mfa.status,
      recoveryCodesRemaining: state.recoveryCodeHashes.length,
      lockedUntil: isLocked(state, this.#clock()) ? state.lockedUntil : null,
    };
  }

  /** The user id registered with this e-mail address (any case), or null. */
  userIdByEmail(email: string): Promise<string | null> {
    return this.#emails.userIdOf(normalizeEmail(email));
  }

  async unlockUser(input: { readonly userId: string; readonly reason: string }, meta: CommandMeta): Promise<Outcome> {
    return this.#plain(
      await this.#users.execute(
        input.userId,
        () => ({ type: 'UnlockUser', commandId: randomUUID(), userId: input.userId, reason: input.reason }),
        meta,
      ),
    );
  }

  // --- login ---------------------------------------------------------------------------------------

  /**
   * E-mail and password. Without MFA: tokens. With MFA: a challenge token for `verifyMfa`. An unknown
   * address and a wrong password get the same INVALID_CREDENTIALS after the same scrypt work.
   */
  async login(
    input: { readonly email: string; readonly password: string; readonly device?: DeviceInput },
    meta?: CommandMeta,
  ): Promise<LoginResult> {
    const normalized = normalizeEmail(input.email);
    const userId = await this.#emails.userIdOf(normalized);
    if (userId === null) {
      await this.#passwords.verifyNobody(input.password);
      return failure(this.#unknownEmailFailure(normalized));
    }
    const sessionId = randomUUID();
    const refresh = newRefreshToken(userId, sessionId);
    const device = deviceFingerprint(input.device);
    const check = this.#passwordCheck(input.password);
    const outcome = await this.#users.execute(
      userId,
      async (user) => ({
        type: 'LogIn',
        commandId: randomUUID(),
        userId,
        passwordValid: await check(user),
        sessionId,
        refreshTokenHash: refresh.hash,
        device,
      }),
      meta ?? { actor: `user:${userId}` },
    );
    if (outcome.status === 'rejected') {
      if (outcome.rejection.code !== 'MFA_REQUIRED') return failure(outcome.rejection);
      await this.#rehashIfWeaker(outcome.user, input.password, meta);
      const challenge = await this.#tokens.issueMfaChallenge(
        userId,
        Number(outcome.rejection.details?.challengeEpoch),
        this.#clock(),
      );
      return {
        ok: true,
        status: 'mfa-required',
        challengeToken: challenge.token,
        challengeExpiresAt: challenge.expiresAt,
      };
    }
    const failed = failureOf(outcome.events);
    if (failed !== null) return failure(failed);
    await this.#rehashIfWeaker(outcome.user, input.password, meta);
    return this.#authenticated(outcome.user, sessionId, refresh.token);
  }

  /** Second step of an MFA login: the challenge token and a TOTP code or a recovery code. */
  async verifyMfa(
    input: { readonly challengeToken: string; readonly code: string; readonly device?: DeviceInput },
    meta?: CommandMeta,
  ): Promise<LoginResult> {
    const challenge = await this.#tokens.verifyMfaChallenge(input.challengeToken, this.#clock());
    if ('kind' in challenge) return failure(challenge);
    const { userId, epoch } = challenge;
    const sessionId = randomUUID();
    const refresh = newRefreshToken(userId, sessionId);
    const device = deviceFingerprint(input.device);
    const outcome = await this.#users.execute(
      userId,
      async (user) => ({
        type: 'CompleteMfaLogin',
        commandId: randomUUID(),
        userId,
        challengeEpoch: epoch,
        proof: await this.#secondFactorProof(user, input.code),
        sessionId,
        refreshTokenHash: refresh.hash,
        device,
      }),
      meta ?? { actor: `user:${userId}` },
    );
    if (outcome.status === 'rejected') return failure(outcome.rejection);
    const failed = failureOf(outcome.events);
    if (failed !== null) return failure(failed);
    return this.#authenticated(outcome.user, sessionId, refresh.token);
  }

  /**
   * Exchanges a refresh token for a new pair; the presented token stops working. A token that was
   * exchanged before revokes its whole session (REFRESH_TOKEN_REUSED) and is recorded.
   */
  async refresh(
    input: { readonly refreshToken: string; readonly device?: DeviceInput },
    meta?: CommandMeta,
  ): Promise<Outcome<{ readonly principal: Principal; readonly tokens: TokenPair }>> {
    const invalid = rejectIdentity('INVALID_REFRESH_TOKEN', 'the refresh token is not valid');
    const parsed = parseRefreshToken(input.refreshToken);
    if (parsed === null) return failure(invalid);
    const { userId, sessionId } = parsed;
    const next = newRefreshToken(userId, sessionId);
    const outcome = await this.#users.execute(
      userId,
      () => ({
        type: 'RefreshSession',
        commandId: randomUUID(),
        userId,
        sessionId,
        presentedTokenHash: hashRefreshToken(input.refreshToken),
        refreshTokenHash: next.hash,
        device: input.device === undefined ? null : deviceFingerprint(input.device),
      }),
      meta ?? { actor: `user:${userId}` },
    );
    if (outcome.status === 'rejected') {
      return failure(outcome.rejection.code === 'UNKNOWN_USER' ? invalid : outcome.rejection);
    }
    const failed = failureOf(outcome.events);
    if (failed !== null) return failure(failed);
    const authenticated = await this.#authenticated(outcome.user, sessionId, next.token);
    return { ok: true, principal: authenticated.principal, tokens: authenticated.tokens };
  }

  /** Ends the caller's session: its refresh token stops working, and so do its access tokens. */
  async logout(principal: Pick<Principal, 'userId' | 'sessionId'>, meta?: CommandMeta): Promise<Outcome> {
    return this.#revoke(principal.userId, principal.sessionId, 'logout', meta ?? { actor: `user:${principal.userId}` });
  }

  /**
   * The principal an access token speaks for. Beyond the signature and claims (algorithm pinned to
   * EdDSA, issuer, audience, type, expiry), the session must still be open in the user's stream, so a
   * revoked session's access tokens stop at once rather than when they expire.
   */
  async verifyAccessToken(token: string): Promise<Outcome<{ readonly principal: Principal }>> {
    const verified = await this.#tokens.verifyAccessToken(token, this.#clock());
    if ('kind' in verified) return failure(verified);
    const { state } = await this.#users.load(verified.userId);
    const invalid = (reason: string) => failure(rejectIdentity('INVALID_TOKEN', 'the token is not valid', { reason }));
    if (state.profile === null) return invalid('unknown-user');
    if (state.profile.role !== verified.role || state.profile.accountId !== verified.accountId)
      return invalid('claims');
    const session = state.sessions.get(verified.sessionId);
    if (session === undefined) return invalid('unknown-session');
    if (session.revokedAt !== null) return failure(rejectIdentity('SESSION_REVOKED', 'the session was revoked'));
    return { ok: true, principal: verified };
  }

  // --- sessions ------------------------------------------------------------------------------------

  /** The user's sessions, newest first: open ones, and with `includeEnded` the recently ended too. */
  async listSessions(userId: string, options: { readonly includeEnded?: boolean } = {}): Promise<SessionView[]> {
    const { state } = await this.#users.load(userId);
    const nowMs = this.#clock().getTime();
    return [...state.sessions.values()]
      .filter((session) => options.includeEnded === true || !sessionEnded(session, nowMs))
      .sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt))
      .map((session) => ({
        sessionId: session.sessionId,
        status: session.revokedAt !== null ? 'revoked' : sessionEnded(session, nowMs) ? 'expired' : 'active',
        startedAt: session.startedAt,
        lastRefreshedAt: session.lastRefreshedAt,
        refreshExpiresAt: session.refreshExpiresAt,
        endsAt: session.endsAt,
        revokedAt: session.revokedAt,
        revokedReason: session.revokedReason,
        device: session.device,
        lastDevice: session.lastDevice,
      }));
  }

  /** The user (or an administrator) ends one session. */
  revokeSession(input: { readonly userId: string; readonly sessionId: string }, meta: CommandMeta): Promise<Outcome> {
    return this.#revoke(input.userId, input.sessionId, 'revoked', meta);
  }

  async #revoke(userId: string, sessionId: string, reason: 'logout' | 'revoked', meta: CommandMeta): Promise<Outcome> {
    return this.#plain(
      await this.#users.execute(
        userId,
        () => ({ type: 'RevokeSession', commandId: randomUUID(), userId, sessionId, reason }),
        meta,
      ),
    );
  }

  // --- password ------------------------------------------------------------------------------------

  /** Needs the current password; every other session of the user is revoked. */
  async changePassword(
    input: {
      readonly userId: string;
      readonly currentPassword: string;
      readonly newPassword: string;
      /** The caller's session, which stays open. */
      readonly sessionId?: string | null;
      readonly device?: DeviceInput;
    },
    meta?: CommandMeta,
  ): Promise<Outcome> {
    const current = await this.#users.load(input.userId);
    if (current.state.profile === null) return failure(rejectIdentity('UNKNOWN_USER', 'no such user'));
    const weak = checkPasswordPolicy(input.newPassword, [current.state.profile.email, current.state.profile.name]);
    if (weak !== null) return failure(weak);
    const passwordHash = await this.#passwords.hash(input.newPassword);
    const check = this.#passwordCheck(input.currentPassword);
    return this.#plain(
      await this.#users.execute(
        input.userId,
        async (user) => ({
          type: 'ChangePassword',
          commandId: randomUUID(),
          userId: input.userId,
          currentPasswordValid: await check(user),
          passwordHash,
          keepSessionId: input.sessionId ?? null,
          device: input.device === undefined ? null : deviceFingerprint(input.device),
        }),
        meta ?? { actor: `user:${input.userId}` },
      ),
    );
  }

  // --- MFA -----------------------------------------------------------------------------------------

  /**
   * Starts TOTP enrolment: the secret, its `otpauth://` URI and a QR code of it. This is the only time
   * the secret leaves the service (it is stored encrypted); MFA is on only after `confirmMfa`.
   */
  async setupMfa(
    userId: string,
    meta?: CommandMeta,
  ): Promise<Outcome<{ readonly secret: string; readonly otpauthUri: string; readonly qrCodeDataUrl: string }>> {
    const secret = generateTotpSecret();
    const outcome = await this.#users.execute(
      userId,
      () => ({
        type: 'StartMfaSetup',
        commandId: randomUUID(),
        userId,
        secretCiphertext: this.#secrets.seal(secret, userId),
      }),
      meta ?? { actor: `user:${userId}` },
    );
    if (outcome.status === 'rejected') return failure(outcome.rejection);
    const label = outcome.user.state.profile?.email ?? userId;
    const otpauthUri = totpUri(secret, { issuer: this.settings.totpIssuer, label });
    const qrCodeDataUrl = await toDataURL(otpauthUri, { errorCorrectionLevel: 'M' });
    return { ok: true, secret, otpauthUri, qrCodeDataUrl };
  }

  /** Turns MFA on with a code from the new authenticator; returns the recovery codes (shown once). */
  async confirmMfa(
    input: { readonly userId: string; readonly code: string },
    meta?: CommandMeta,
  ): Promise<Outcome<{ readonly recoveryCodes: readonly string[] }>> {
    const recoveryCodes = generateRecoveryCodes();
    const outcome = await this.#users.execute(
      input.userId,
      async (user) => ({
        type: 'ConfirmMfa',
        commandId: randomUUID(),
        userId: input.userId,
        proof: await this.#secondFactorProof(user, input.code),
        recoveryCodeHashes: recoveryCodes.map((code) => hashRecoveryCode(code) as string),
      }),
      meta ?? { actor: `user:${input.userId}` },
    );
    if (outcome.status === 'rejected') return failure(outcome.rejection);
    return { ok: true, recoveryCodes };
  }

  /** The user turns MFA off, proving a second factor (a failed proof counts towards the lockout). */
  async disableMfa(
    input: { readonly userId: string; readonly code: string; readonly device?: DeviceInput },
    meta?: CommandMeta,
  ): Promise<Outcome> {
    return this.#plain(
      await this.#users.execute(
        input.userId,
        async (user) => ({
          type: 'DisableMfa',
          commandId: randomUUID(),
          userId: input.userId,
          proof: await this.#secondFactorProof(user, input.code),
          device: input.device === undefined ? null : deviceFingerprint(input.device),
        }),
        meta ?? { actor: `user:${input.userId}` },
      ),
    );
  }

  /** An administrator turns MFA off for a user who lost the authenticator and the recovery codes. */
  async resetMfa(input: { readonly userId: string; readonly reason: string }, meta: CommandMeta): Promise<Outcome> {
    return this.#plain(
      await this.#users.execute(
        input.userId,
        () => ({ type: 'ResetMfa', commandId: randomUUID(), userId: input.userId, reason: input.reason }),
        meta,
      ),
    );
  }

  /** A new set of recovery codes (the old set stops working), proving a second factor. */
  async regenerateRecoveryCodes(
    input: { readonly userId: string; readonly code: string; readonly device?: DeviceInput },
    meta?: CommandMeta,
  ): Promise<Outcome<{ readonly recoveryCodes: readonly string[] }>> {
    const recoveryCodes = generateRecoveryCodes();
    const outcome = await this.#users.execute(
      input.userId,
      async (user) => ({
        type: 'RegenerateRecoveryCodes',
        commandId: randomUUID(),
        userId: input.userId,
        proof: await this.#secondFactorProof(user, input.code),
        recoveryCodeHashes: recoveryCodes.map((code) => hashRecoveryCode(code) as string),
        device: input.device === undefined ? null : deviceFingerprint(input.device),
      }),
      meta ?? { actor: `user:${input.userId}` },
    );
    const plain = this.#plain(outcome);
    return plain.ok ? { ok: true, recoveryCodes } : plain;
  }

  // --- audit ---------------------------------------------------------------------------------------

  /**
   * A page of the user's security log (its stream: registrations, logins, failures, locks, MFA,
   * sessions, token reuse), oldest first, with secrets left out. `nextVersion` continues it.
   */
  async securityEvents(
    userId: string,
    options: { readonly fromVersion?: bigint; readonly maxCount?: number } = {},
  ): Promise<{ readonly events: readonly SecurityEvent[]; readonly nextVersion: bigint | null }> {
    const maxCount = Math.min(Math.max(1, options.maxCount ?? SECURITY_EVENTS_PAGE_MAX), SECURITY_EVENTS_PAGE_MAX);
    const { events } = await this.#store.readStream(userStream(userId), {
      fromVersion: options.fromVersion ?? 1n,
      maxCount,
    });
    const last = events.at(-1);
    return {
      events: events.map(securityEvent),
      nextVersion: events.length === maxCount && last !== undefined ? last.version + 1n : null,
    };
  }

  /**
   * Every user's security events in log order (for `GET /audit/security` without a user): a page after
   * `after`, with the user id of each; pass `last` back as `after` for the next page.
   */
  async securityFeed(options: { readonly after?: Position | null; readonly maxCount?: number } = {}): Promise<{
    readonly events: readonly (SecurityEvent & { readonly userId: string })[];
    readonly last: Position | null;
  }> {
    const maxCount = Math.min(Math.max(1, options.maxCount ?? SECURITY_EVENTS_PAGE_MAX), SECURITY_EVENTS_PAGE_MAX);
    const page = await this.#store.readAll({
      after: options.after ?? null,
      maxCount,
      filter: { streamPrefixes: [USER_STREAM_PREFIX] },
    });
    return {
      events: page.events.map((event) => ({
        ...securityEvent(event),
        userId: event.streamId.slice(USER_STREAM_PREFIX.length),
      })),
      last: page.last,
    };
  }

  /** Recomputes the user stream's hash chain (tamper evidence). */
  verifyChain(userId: string): Promise<ChainReport> {
    return verifyStream(this.#store, userStream(userId));
  }

  // --- internals -----------------------------------------------------------------------------------

  /** Verifies `password` against the user's current hash, once per distinct hash (retries reuse it). */
  #passwordCheck(password: string): (user: LoadedUser) => Promise<boolean> {
    let checked: { readonly hash: string; readonly valid: boolean } | null = null;
    return async (user) => {
      const hash = user.state.passwordHash;
      if (hash === null) return this.#passwords.verifyNobody(password);
      if (checked?.hash !== hash) checked = { hash, valid: await this.#passwords.verify(password, hash) };
      return checked.valid;
    };
  }

  async #secondFactorProof(user: LoadedUser, code: string): Promise<MfaProof> {
    const { mfa, profile } = user.state;
    const trimmed = code.trim();
    if (looksLikeTotpCode(trimmed)) {
      if (mfa.status === 'off' || profile === null) return { kind: 'totp', timeStep: null };
      const secret = this.#secrets.open(mfa.secretCiphertext, profile.userId);
      return { kind: 'totp', timeStep: await verifyTotp(secret, trimmed, this.#clock()) };
    }
    const codeHash = hashRecoveryCode(trimmed);
    return codeHash === null ? { kind: 'malformed' } : { kind: 'recovery-code', codeHash };
  }

  /** After a successful password check: store the password again if it was hashed with lower costs. */
  async #rehashIfWeaker(user: LoadedUser, password: string, meta: CommandMeta | undefined): Promise<void> {
    const { profile, passwordHash } = user.state;
    if (profile === null || passwordHash === null || !this.#passwords.needsRehash(passwordHash)) return;
    const rehashed = await this.#passwords.hash(password);
    await this.#users.execute(
      profile.userId,
      () => ({ type: 'RehashPassword', commandId: randomUUID(), userId: profile.userId, passwordHash: rehashed }),
      meta ?? { actor: `user:${profile.userId}` },
    );
  }

  async #authenticated(
    user: LoadedUser,
    sessionId: string,
    refreshToken: string,
  ): Promise<{
    readonly ok: true;
    readonly status: 'authenticated';
    readonly principal: Principal;
    readonly tokens: TokenPair;
  }> {
    const { profile } = user.state;
    const session = user.state.sessions.get(sessionId);
    if (profile === null || session === undefined) throw new Error(`session ${sessionId} was not recorded`);
    const principal: Principal = {
      userId: profile.userId,
      role: profile.role,
      accountId: profile.accountId,
      sessionId,
    };
    const access = await this.#tokens.issueAccessToken(principal, this.#clock());
    return {
      ok: true,
      status: 'authenticated',
      principal,
      tokens: {
        tokenType: 'Bearer',
        accessToken: access.token,
        accessTokenExpiresAt: access.expiresAt,
        refreshToken,
        refreshTokenExpiresAt: session.refreshExpiresAt,
        sessionId,
      },
    };
  }

  /** Rejected, or accepted but recording a failure (a wrong code), or accepted. */
  #plain(outcome: UserOutcome): Outcome {
    if (outcome.status === 'rejected') return failure(outcome.rejection);
    const failed = failureOf(outcome.events);
    return failed === null ? { ok: true } : failure(failed);
  }

  /**
   * An unknown address is answered exactly like a registered one with a wrong password, lockout
   * included: after `failuresMax` failures within the window it reports ACCOUNT_LOCKED too, so locking
   * does not reveal which addresses exist. Counted in this process only (bounded).
   */
  #unknownEmailFailure(normalizedEmail: string): IdentityRejection {
    const { lockout } = this.settings.rules;
    const nowMs = this.#clock().getTime();
    const entry = this.#unknownEmails.get(normalizedEmail) ?? { failuresMs: [], lockedUntilMs: 0 };
    this.#unknownEmails.delete(normalizedEmail);
    if (nowMs < entry.lockedUntilMs) {
      this.#unknownEmails.set(normalizedEmail, entry);
      return lockedLike(entry.lockedUntilMs);
    }
    const failuresMs = [...entry.failuresMs.filter((at) => at > nowMs - lockout.windowSeconds * SECOND_MS), nowMs];
    const locked = failuresMs.length >= lockout.failuresMax;
    this.#unknownEmails.set(normalizedEmail, {
      failuresMs: locked ? [] : failuresMs,
      lockedUntilMs: locked ? nowMs + lockout.durationSeconds * SECOND_MS : 0,
    });
    if (this.#unknownEmails.size > UNKNOWN_EMAILS_TRACKED_MAX) {
      const oldest = this.#unknownEmails.keys().next().value;
      if (oldest !== undefined) this.#unknownEmails.delete(oldest);
    }
    return INVALID_CREDENTIALS;
  }
}

function lockedLike(lockedUntilMs: number): IdentityRejection {
  return rejectIdentity('ACCOUNT_LOCKED', 'too many failed attempts: the user is locked for a while', {
    lockedUntil: new Date(lockedUntilMs).toISOString(),
  });
}

function failure(rejection: IdentityRejection): { readonly ok: false; readonly rejection: IdentityRejection } {
  return { ok: false, rejection };
}

/** Signing keys must outlive every token they signed, plus a reload interval and the clock skew allowed. */
function retireAfterSeconds(settings: IdentitySettings): number {
  const longestTokenSeconds = Math.max(settings.accessTokenSeconds, settings.mfaChallengeSeconds);
  return longestTokenSeconds + KEY_RELOAD_INTERVAL_SECONDS + settings.clockToleranceSeconds;
}

function securityEvent(event: RecordedEvent): SecurityEvent {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event.data)) {
    if (key === 'codeHashes' && Array.isArray(value)) data.codesIssued = value.length;
    if (!SECRET_FIELDS.has(key)) data[key] = value;
  }
  return {
    eventId: event.eventId,
    version: event.version.toString(),
    type: event.type,
    recordedAt: String(event.metadata.recordedAt ?? event.storedAt.toISOString()),
    actor: String(event.metadata.actor ?? ''),
    data,
  };
}
