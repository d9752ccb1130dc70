import { createHash } from 'node:crypto';
import { parseTariff, type Tariff } from '@khata/domain';
import {
  type EventStore,
  type FollowLogOptions,
  followLog,
  type JsonObject,
  type LogFollower,
  type Position,
  WrongExpectedVersion,
} from '@khata/event-store';
import type { TariffPublishedData } from '@khata/schemas';
import { v5 as uuidV5 } from 'uuid';
import type { LogFollowers } from './followers.ts';

export interface PublishedTariff {
  readonly id: string;
  readonly version: number;
  readonly document: JsonObject;
  readonly tariff: Tariff;
  readonly publishedAt: string;
  readonly publishedBy: string;
}

const NAMESPACE = '2e7d4c1b-9a8f-5b6c-8d7e-1f2a3b4c5d6e';
const PAGE = 500;
/** The follower's name in logs, metrics and `/ready`. */
export const TARIFF_FOLLOWER_NAME = 'tariffs';

export interface TariffRegistryOptions {
  /** Where the follower of new publications is reported (metrics, `/ready`); unreported when absent. */
  readonly followers?: Pick<LogFollowers, 'follow'>;
  /** Retry bounds of the follower (tests shorten them). */
  readonly retryDelayMilliseconds?: FollowLogOptions['retryDelayMilliseconds'];
}

/**
 * The tariffs in force, event-sourced: `tariff-<id>` streams of TariffPublished events. Every process
 * loads the latest version of each at start and follows new publications, so a tariff published
 * through the API reaches every API and worker process without a restart. The follower survives store
 * outages (it resumes from the last publication it applied), so processes cannot keep diverging versions.
 */
export class TariffRegistry {
  readonly #store: EventStore;
  readonly #options: TariffRegistryOptions;
  readonly #current = new Map<string, PublishedTariff>();
  #abort: AbortController | null = null;
  #follower: LogFollower | null = null;

  constructor(store: EventStore, options: TariffRegistryOptions = {}) {
    this.#store = store;
    this.#options = options;
  }

  /** Loads every published tariff, then follows new publications from there. */
  async load(): Promise<void> {
    let after: Position | null = null;
    for (;;) {
      const page = await this.#store.readAll({ after, maxCount: PAGE, filter: { streamPrefixes: ['tariff-'] } });
      for (const event of page.events) this.#apply(event.data as unknown as TariffPublishedData);
      after = page.last;
      if (page.caughtUp) break;
    }
    this.#follow(after);
  }

  #follow(after: Position | null): void {
    const abort = new AbortController();
    this.#abort = abort;
    const options: FollowLogOptions = {
      name: TARIFF_FOLLOWER_NAME,
      store: this.#store,
      after,
      filter: { streamPrefixes: ['tariff-'] },
      signal: abort.signal,
      // Applying is idempotent (an older or equal version is ignored), so a batch brought again is harmless.
      handle: (batch) => {
        for (const event of batch.events) this.#apply(event.data as unknown as TariffPublishedData);
      },
      ...(this.#options.retryDelayMilliseconds === undefined
        ? {}
        : { retryDelayMilliseconds: this.#options.retryDelayMilliseconds }),
    };
    this.#follower = this.#options.followers?.follow(options) ?? followLog(options);
  }

  /** The follower of new publications (null before `load`): its state, for tests and diagnostics. */
  get follower(): LogFollower | null {
    return this.#follower;
  }

  #apply(data: TariffPublishedData): void {
    const current = this.#current.get(data.tariffId);
    if (current !== undefined && current.version >= data.version) return;
    this.#current.set(data.tariffId, {
      id: data.tariffId,
      version: data.version,
      document: data.document as JsonObject,
      tariff: parseTariff(data.document),
      publishedAt: data.publishedAt,
      publishedBy: data.publishedBy,
    });
  }

  current(id: string): PublishedTariff | undefined {
    return this.#current.get(id);
  }

  list(): readonly PublishedTariff[] {
    return [...this.#current.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Publishes a new version of a tariff (validated first: a broken document throws TariffError and is
   * not stored). Identical content to the current version is not published again.
   */
  async publish(document: unknown, publishedBy: string, now: Date): Promise<PublishedTariff> {
    const tariff = parseTariff(document);
    const stream = `tariff-${tariff.id}`;
    for (let attempt = 1; ; attempt += 1) {
      const { version } = await this.#store.readStream(stream, { direction: 'backwards', maxCount: 1 });
      const current = this.#current.get(tariff.id);
      if (current !== undefined && current.version === Number(version) && sameDocument(current.document, document))
        return current;
      const data: TariffPublishedData = {
        tariffId: tariff.id,
        version: Number(version) + 1,
        document: document as Record<string, unknown>,
        publishedBy,
        publishedAt: now.toISOString(),
      };
      try {
        await this.#store.appendToStream(
          stream,
          [
            {
              eventId: uuidV5(`${stream}/${data.version}/${digest(document)}`, NAMESPACE),
              type: 'TariffPublished',
              data: data as unknown as JsonObject,
            },
          ],
          { expected: version === 0n ? 'no_stream' : version },
        );
        this.#apply(data);
        return this.#current.get(tariff.id) as PublishedTariff;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersion) || attempt >= 5) throw error;
      }
    }
  }

  /** Publishes `document` as version 1 when the tariff has never been published (first start). */
  async seed(document: unknown, now: Date): Promise<void> {
    const tariff = parseTariff(document);
    if (this.#current.has(tariff.id)) return;
    const { version } = await this.#store.readStream(`tariff-${tariff.id}`, { maxCount: 1 });
    if (version > 0n) return;
    await this.publish(document, 'system:seed', now);
  }

  async close(): Promise<void> {
    this.#abort?.abort();
    await this.#follower?.done;
  }
}

function digest(document: unknown): string {
  return createHash('sha256').update(JSON.stringify(document)).digest('hex').slice(0, 16);
}

function sameDocument(a: unknown, b: unknown): boolean {
  return digest(a) === digest(b);
}
