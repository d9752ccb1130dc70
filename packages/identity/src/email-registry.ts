import { createHash } from 'node:crypto';
import { type EventStore, WrongExpectedVersion } from '@khata/event-store';
import { type CommandMeta, chainHash, eventIdFor, GENESIS_HASH } from '@khata/ledger';
import { CURRENT_USER_EVENT_VERSION } from '@khata/schemas';
import type { UserRepository } from './user-store.ts';

export const EMAIL_STREAM_PREFIX = 'email-';
/**
 * A claim whose user never got registered (the process died between the two appends) is taken over by
 * another registration only after this long, so a registration still in flight is never overtaken.
 */
export const EMAIL_CLAIM_GRACE_SECONDS = 60;
const CLAIM_ATTEMPTS_MAX = 5;
/** Addresses whose (registered, hence permanent) owner stays in memory for logins. */
const CACHED_OWNERS_MAX = 10_000;
const SECOND_MS = 1_000;
/** The registry's events are versioned with the user events (both are schema v1 today). */
const REGISTRY_EVENT_VERSION = CURRENT_USER_EVENT_VERSION.UserRegistered;

/** `email-<SHA-256 of the normalized address>`: the address itself never appears in a stream name. */
export function emailStream(normalizedEmail: string): string {
  return `${EMAIL_STREAM_PREFIX}${createHash('sha256').update(normalizedEmail).digest('hex')}`;
}

interface Holder {
  readonly userId: string | null;
  readonly version: bigint;
  readonly lastHash: string;
  readonly claimedAt: string | null;
}

/**
 * One user per e-mail address (case-insensitively), which no single user stream can enforce: each
 * normalized address has a small stream whose last event says which user holds it. A registration
 * claims the address there first — the append expects the version it read (`no_stream` for a new
 * address), so of two racing registrations exactly one wins — the way the ledger claims toll-free
 * numbers.
 */
export class EmailRegistry {
  readonly #store: EventStore;
  readonly #users: UserRepository;
  readonly #clock: () => Date;
  readonly #owners = new Map<string, string>();

  constructor(options: { readonly store: EventStore; readonly users: UserRepository; readonly clock: () => Date }) {
    this.#store = options.store;
    this.#users = options.users;
    this.#clock = options.clock;
  }

  /** The registered user holding the address, or null (free, or held by an unfinished registration). */
  async userIdOf(normalizedEmail: string): Promise<string | null> {
    const cached = this.#owners.get(normalizedEmail);
    if (cached !== undefined) return cached;
    const { userId } = await this.#holder(normalizedEmail);
    if (userId === null) return null;
    const user = await this.#users.load(userId);
    if (user.state.status !== 'active') return null;
    if (this.#owners.size >= CACHED_OWNERS_MAX) this.#owners.clear();
    this.#owners.set(normalizedEmail, userId);
    return userId;
  }

  /**
   * Claims the address for `userId`: true when it was free, is already this user's, or is held by a claim
   * whose registration never completed (older than the grace period); false when someone has it.
   */
  async claim(normalizedEmail: string, userId: string, commandId: string, meta: CommandMeta): Promise<boolean> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS_MAX; attempt += 1) {
      const holder = await this.#holder(normalizedEmail);
      if (holder.userId === userId) return true;
      if (holder.userId !== null) {
        const owner = await this.#users.load(holder.userId);
        if (owner.state.status === 'active') return false;
        const claimedAtMs = holder.claimedAt === null ? Number.NaN : Date.parse(holder.claimedAt);
        if (!(this.#clock().getTime() - claimedAtMs >= EMAIL_CLAIM_GRACE_SECONDS * SECOND_MS)) return false;
      }
      try {
        await this.#append(normalizedEmail, holder, 'EmailClaimed', userId, commandId, meta);
        return true;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion)) throw error;
      }
    }
    return false;
  }

  /** Gives the address back when the registration it was claimed for was refused. */
  async release(normalizedEmail: string, userId: string, commandId: string, meta: CommandMeta): Promise<void> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS_MAX; attempt += 1) {
      const holder = await this.#holder(normalizedEmail);
      if (holder.userId !== userId) return;
      try {
        await this.#append(normalizedEmail, holder, 'EmailReleased', userId, commandId, meta);
        return;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion)) throw error;
      }
    }
  }

  async #holder(normalizedEmail: string): Promise<Holder> {
    const { version, events } = await this.#store.readStream(emailStream(normalizedEmail), {
      direction: 'backwards',
      maxCount: 1,
    });
    const last = events[0];
    if (last === undefined) return { userId: null, version, lastHash: GENESIS_HASH, claimedAt: null };
    const lastHash = typeof last.metadata.chainHash === 'string' ? last.metadata.chainHash : GENESIS_HASH;
    if (last.type !== 'EmailClaimed') return { userId: null, version, lastHash, claimedAt: null };
    const claimedAt = typeof last.metadata.recordedAt === 'string' ? last.metadata.recordedAt : null;
    return { userId: String(last.data.userId), version, lastHash, claimedAt };
  }

  async #append(
    normalizedEmail: string,
    holder: Holder,
    type: 'EmailClaimed' | 'EmailReleased',
    userId: string,
    commandId: string,
    meta: CommandMeta,
  ): Promise<void> {
    const streamId = emailStream(normalizedEmail);
    const version = holder.version + 1n;
    // Named by the registration's command and the place it takes: a retried append finds its own event,
    // and the id never collides with the user stream's events derived from the same command id.
    const eventId = eventIdFor(streamId, commandId, 0, `${type}/${commandId}/${version}`);
    const metadata = {
      commandId,
      correlationId: meta.correlationId ?? commandId,
      causationId: meta.causationId ?? commandId,
      actor: meta.actor,
      recordedAt: this.#clock().toISOString(),
    };
    const data = { userId };
    const hash = chainHash(holder.lastHash, {
      streamId,
      version,
      eventId,
      type,
      schemaVersion: REGISTRY_EVENT_VERSION,
      data,
      metadata,
    });
    await this.#store.appendToStream(
      streamId,
      [{ eventId, type, schemaVersion: REGISTRY_EVENT_VERSION, data, metadata: { ...metadata, chainHash: hash } }],
      { expected: holder.version === 0n ? 'no_stream' : holder.version },
    );
  }
}
