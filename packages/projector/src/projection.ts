import type { EventFilter, RecordedEvent } from '@khata/event-store';
import { type MigrationSet, quoteIdentifier, type SqlQueryable } from '@khata/sql';

/**
 * A read model: its tables (created by numbered migrations inside the read model's own schema) and the
 * function that applies a batch of events to them. `apply` runs inside the projector's transaction, the
 * same one that moves the checkpoint, so a batch is applied exactly once or not at all. It must never
 * read a clock: times come from the events.
 */
export interface Projection {
  /** Lower-case identifier, e.g. `balances`. */
  readonly name: string;
  readonly description: string;
  /** The read model's migrations. SQL is produced for a schema name, because a rebuild builds a new copy. */
  readonly migrations: readonly ProjectionMigration[];
  /** Which events it needs; the rest of the log is skipped (its checkpoint still moves past them). */
  readonly filter: EventFilter;
  /** Partitions of the work (by hash of stream id); each is owned by one worker at a time. */
  readonly shards: number;
  apply(tx: SqlQueryable, events: readonly RecordedEvent[], context: ProjectionContext): Promise<void>;
}

export interface ProjectionMigration {
  readonly version: number;
  readonly name: string;
  sql(schema: string): string;
}

export interface ProjectionContext {
  /** The (quoted-safe) schema of the generation being written, e.g. `rm_balances_g1`. */
  readonly schema: string;
  /**
   * What the projection keeps between batches in this process, for this generation (a cache of what it wrote).
   * Not transactional: a batch whose transaction rolls back leaves its entries, and another worker may move the
   * read model on meanwhile, so a projection checks anything it takes from here against its tables.
   */
  readonly memory: Map<string, unknown>;
}

/** The schema of one generation of a read model. */
export function generationSchema(name: string, generation: number): string {
  const schema = `rm_${name}_g${generation}`;
  quoteIdentifier(schema);
  return schema;
}

/** The projection's migrations for one generation, as the shared migration runner takes them. */
export function generationMigrations(projection: Projection, generation: number): MigrationSet {
  const schema = generationSchema(projection.name, generation);
  return {
    namespace: `projection:${projection.name}:g${generation}`,
    migrations: projection.migrations.map((migration) => ({
      version: migration.version,
      name: migration.name,
      sql:
        migration.version === 1
          ? `CREATE SCHEMA IF NOT EXISTS ${schema};\n${migration.sql(schema)}`
          : migration.sql(schema),
    })),
  };
}

/** FNV-1a (32-bit) of a stream id: stable across processes and releases, so shards never move. */
export function shardOf(streamId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < streamId.length; i += 1) {
    hash ^= streamId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** A projection that failed to apply an event: it stops there, and its checkpoint stays before it. */
export class PoisonEvent extends Error {
  override readonly name = 'PoisonEvent';
  readonly projection: string;
  readonly event: {
    readonly eventId: string;
    readonly type: string;
    readonly streamId: string;
    readonly version: string;
    readonly position: string;
  };

  constructor(projection: string, event: RecordedEvent, cause: unknown) {
    super(
      `projection ${projection} cannot apply ${event.type} ${event.eventId} (stream ${event.streamId} v${event.version}, position ${event.position}): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.projection = projection;
    this.event = {
      eventId: event.eventId,
      type: event.type,
      streamId: event.streamId,
      version: event.version.toString(),
      position: event.position,
    };
  }
}
