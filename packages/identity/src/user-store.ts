import {
  type EventStore,
  type JsonObject,
  type NewEvent,
  type RecordedEvent,
  WrongExpectedVersion,
} from '@khata/event-store';
import { type CommandMeta, chainHash, eventIdFor, GENESIS_HASH, InvalidCommand } from '@khata/ledger';
import {
  CURRENT_USER_EVENT_VERSION,
  createValidator,
  type UserCommand,
  UserCommand as UserCommandSchema,
  type UserEvent,
  type UserEventType,
} from '@khata/schemas';
import type { UserDecider, UserDecision } from './user/decide.ts';
import { type IdentityRejection, isIdentityRejection } from './user/rejections.ts';
import { InvariantViolation, type UserState } from './user/state.ts';

export const USER_STREAM_PREFIX = 'user-';
/** Users whose folded state stays in memory between commands (least recently used leave first). */
export const CACHED_USERS_MAX = 10_000;
/** Appends retried after another process wrote to the same user in between. */
export const USER_APPEND_ATTEMPTS_MAX = 5;
const READ_PAGE_EVENTS = 1_000;

type ChainedMetadata = Parameters<typeof chainHash>[1]['metadata'];

export function userStream(userId: string): string {
  return `${USER_STREAM_PREFIX}${userId}`;
}

/** A user as the handler holds it: state folded up to `version`, and the chain hash of that event. */
export interface LoadedUser {
  readonly streamId: string;
  readonly state: UserState;
  readonly version: bigint;
  readonly lastHash: string;
}

export type UserOutcome =
  | { readonly status: 'accepted'; readonly events: readonly UserEvent[]; readonly user: LoadedUser }
  | { readonly status: 'rejected'; readonly rejection: IdentityRejection; readonly user: LoadedUser };

export interface UserRepositoryOptions {
  readonly store: EventStore;
  readonly decider: UserDecider;
  readonly clock: () => Date;
  readonly cachedUsersMax?: number;
  readonly appendAttemptsMax?: number;
}

const validateCommand = createValidator<UserCommand>(UserCommandSchema);

/**
 * Loads users from their streams and runs commands on them: validate → decide → append with the
 * expected version. Events get ids derived from the command id (ledger's `eventIdFor`) and the stream's
 * SHA-256 chain in their metadata (ledger's `chainHash`), so `verifyStream` audits user streams as it
 * does accounts. Users are quiet aggregates (a handful of commands an hour): no single-writer queue,
 * just compare-and-set, re-deciding on conflict.
 */
export class UserRepository {
  readonly #options: Required<UserRepositoryOptions>;
  readonly #cache = new Map<string, LoadedUser>();

  constructor(options: UserRepositoryOptions) {
    this.#options = {
      cachedUsersMax: CACHED_USERS_MAX,
      appendAttemptsMax: USER_APPEND_ATTEMPTS_MAX,
      ...options,
    };
  }

  /** The user's current state: the cached fold, caught up with whatever was appended since. */
  async load(userId: string): Promise<LoadedUser> {
    const streamId = userStream(userId);
    const start = this.#cache.get(streamId) ?? {
      streamId,
      state: this.#options.decider.initialState(),
      version: 0n,
      lastHash: GENESIS_HASH,
    };
    let { state, version, lastHash } = start;
    for (;;) {
      const { events } = await this.#options.store.readStream(streamId, {
        fromVersion: version + 1n,
        maxCount: READ_PAGE_EVENTS,
      });
      for (const event of events) {
        state = this.#options.decider.evolve(state, toUserEvent(event));
        version = event.version;
        lastHash = typeof event.metadata.chainHash === 'string' ? event.metadata.chainHash : lastHash;
      }
      if (events.length < READ_PAGE_EVENTS) break;
    }
    const loaded = { streamId, state, version, lastHash };
    this.#remember(loaded);
    return loaded;
  }

  /**
   * Builds the command from the user's current state (proofs such as "is the password right" are
   * computed against it), decides, and appends. On a concurrent write it loads again and rebuilds.
   * Throws InvalidCommand when the built command does not match its schema (a bug in the caller).
   */
  async execute(
    userId: string,
    build: (user: LoadedUser) => UserCommand | Promise<UserCommand>,
    meta: CommandMeta,
  ): Promise<UserOutcome> {
    for (let attempt = 1; ; attempt += 1) {
      const user = await this.load(userId);
      const checked = validateCommand(await build(user));
      if (!checked.ok) throw new InvalidCommand(checked.issues);
      const command = checked.value;
      const now = this.#options.clock();
      const decision: UserDecision = this.#options.decider.decide(command, user.state, now);
      if (isIdentityRejection(decision)) return { status: 'rejected', rejection: decision, user };
      if (decision.length === 0) return { status: 'accepted', events: [], user };
      const draft = this.#draft(user, command, decision, meta, now);
      try {
        await this.#options.store.appendToStream(user.streamId, draft.events, {
          expected: user.version === 0n ? 'no_stream' : user.version,
        });
      } catch (error) {
        if (error instanceof WrongExpectedVersion && attempt < this.#options.appendAttemptsMax) continue;
        throw error;
      }
      this.#remember(draft.user);
      return { status: 'accepted', events: decision, user: draft.user };
    }
  }

  /** Forgets cached state (tests that rewrite streams). */
  forget(userId: string): void {
    this.#cache.delete(userStream(userId));
  }

  #draft(
    user: LoadedUser,
    command: UserCommand,
    decided: readonly UserEvent[],
    meta: CommandMeta,
    now: Date,
  ): { events: NewEvent[]; user: LoadedUser } {
    let { state, version, lastHash } = user;
    const metadata: ChainedMetadata = {
      commandId: command.commandId,
      correlationId: meta.correlationId ?? command.commandId,
      causationId: meta.causationId ?? command.commandId,
      actor: meta.actor,
      recordedAt: now.toISOString(),
    };
    const events = decided.map((event, index): NewEvent => {
      version += 1n;
      const eventId = eventIdFor(user.streamId, command.commandId, index, undefined);
      const schemaVersion = CURRENT_USER_EVENT_VERSION[event.type];
      lastHash = chainHash(lastHash, {
        streamId: user.streamId,
        version,
        eventId,
        type: event.type,
        schemaVersion,
        data: event.data,
        metadata,
      });
      state = this.#options.decider.evolve(state, event);
      return {
        eventId,
        type: event.type,
        schemaVersion,
        data: event.data as unknown as JsonObject,
        metadata: { ...metadata, chainHash: lastHash },
      };
    });
    return { events, user: { streamId: user.streamId, state, version, lastHash } };
  }

  #remember(user: LoadedUser): void {
    this.#cache.delete(user.streamId);
    this.#cache.set(user.streamId, user);
    if (this.#cache.size > this.#options.cachedUsersMax) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
  }
}

/** A stored event of a user stream as the decider sees it (every user event is at version 1 so far). */
export function toUserEvent(event: RecordedEvent): UserEvent {
  const type = event.type as UserEventType;
  if (!Object.hasOwn(CURRENT_USER_EVENT_VERSION, type)) {
    throw new InvariantViolation(`${event.streamId} holds an event of unknown type ${event.type}`);
  }
  if (event.schemaVersion !== CURRENT_USER_EVENT_VERSION[type]) {
    throw new InvariantViolation(`${event.type} v${event.schemaVersion} has no upcaster`);
  }
  return { type, data: event.data } as unknown as UserEvent;
}
