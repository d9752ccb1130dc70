import { createPgliteClient, createPostgresClient, type SqlClient } from '@khata/sql';
import { MemoryEventStore } from './memory.ts';
import { LOG_CACHE_EVENTS_DEFAULT, SqlEventStore } from './sql/store.ts';
import type { EventStore } from './types.ts';

export type EventStoreSettings =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'pglite';
      /** Directory of the embedded database; in memory when absent. Ignored when `client` is given. */
      readonly dataDir?: string;
      /** An open PGlite client to share with the read models (one embedded database). */
      readonly client?: SqlClient;
    }
  | {
      readonly kind: 'postgres';
      readonly connectionString: string;
      readonly poolSize?: number;
      readonly notify?: boolean;
    }
  | { readonly kind: 'eventstoredb'; readonly connectionString: string };

export interface OpenOptions {
  /** Create or update the store's schema first (what `khata migrate` does). */
  readonly migrate?: boolean;
  readonly applicationName?: string;
  /** SQL stores: the companion append function (SqlEventStoreOptions.appendFunction). */
  readonly appendFunction?: string;
}

/** Opens the adapter the settings name. The rest of Khata only ever sees the `EventStore` interface. */
export async function openEventStore(settings: EventStoreSettings, options: OpenOptions = {}): Promise<EventStore> {
  const migrate = options.migrate ?? false;
  switch (settings.kind) {
    case 'memory':
      return new MemoryEventStore();
    case 'pglite': {
      const client =
        settings.client ??
        (await createPgliteClient(settings.dataDir === undefined ? {} : { dataDir: settings.dataDir }));
      return SqlEventStore.open(client, {
        migrate,
        ownsClient: settings.client === undefined,
        logCacheEvents: LOG_CACHE_EVENTS_DEFAULT,
        ...(options.appendFunction === undefined ? {} : { appendFunction: options.appendFunction }),
      });
    }
    case 'postgres': {
      const client = createPostgresClient({
        connectionString: settings.connectionString,
        applicationName: options.applicationName ?? 'khata-event-store',
        ...(settings.poolSize === undefined ? {} : { maxConnections: settings.poolSize }),
      });
      return SqlEventStore.open(client, {
        migrate,
        notify: settings.notify ?? false,
        logCacheEvents: LOG_CACHE_EVENTS_DEFAULT,
        ...(options.appendFunction === undefined ? {} : { appendFunction: options.appendFunction }),
      });
    }
    case 'eventstoredb': {
      const { EventStoreDbEventStore } = await import('./eventstoredb.ts');
      return EventStoreDbEventStore.connect(settings.connectionString);
    }
  }
}
