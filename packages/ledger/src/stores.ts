import type { SqlClient } from '@khata/sql';
import type { LoggedOutcome } from './outcome.ts';

/**
 * The outcome of every command id, so a retried command gets its first answer (rejections included). An
 * accepted command's events are kept by id and version (LoggedOutcome); the writer reads their data back.
 */
export interface CommandLog {
  getMany(commandIds: readonly string[]): Promise<ReadonlyMap<string, LoggedOutcome>>;
  putMany(outcomes: readonly LoggedOutcome[]): Promise<void>;
}

export interface Snapshot {
  readonly streamId: string;
  readonly version: bigint;
  readonly shapeVersion: number;
  readonly state: { readonly [key: string]: unknown };
  readonly lastHash: string;
}

/** Snapshots of long streams: a cache of `evolve`, never a source of truth. */
export interface SnapshotStore {
  load(streamId: string): Promise<Snapshot | null>;
  save(snapshot: Snapshot): Promise<void>;
}

export class MemoryCommandLog implements CommandLog {
  readonly #outcomes = new Map<string, LoggedOutcome>();

  async getMany(commandIds: readonly string[]): Promise<ReadonlyMap<string, LoggedOutcome>> {
    const found = new Map<string, LoggedOutcome>();
    for (const id of commandIds) {
      const outcome = this.#outcomes.get(id);
      if (outcome !== undefined) found.set(id, outcome);
    }
    return found;
  }

  async putMany(outcomes: readonly LoggedOutcome[]): Promise<void> {
    for (const outcome of outcomes)
      if (!this.#outcomes.has(outcome.commandId)) this.#outcomes.set(outcome.commandId, outcome);
  }
}

export class MemorySnapshotStore implements SnapshotStore {
  readonly #snapshots = new Map<string, Snapshot>();

  async load(streamId: string): Promise<Snapshot | null> {
    return this.#snapshots.get(streamId) ?? null;
  }

  async save(snapshot: Snapshot): Promise<void> {
    const current = this.#snapshots.get(snapshot.streamId);
    if (current === undefined || current.version < snapshot.version) this.#snapshots.set(snapshot.streamId, snapshot);
  }
}

/** The command log in PostgreSQL or PGlite (`ledger.command_log`). The first outcome for an id wins. */
export class SqlCommandLog implements CommandLog {
  readonly #db: SqlClient;

  constructor(db: SqlClient) {
    this.#db = db;
  }

  async getMany(commandIds: readonly string[]): Promise<ReadonlyMap<string, LoggedOutcome>> {
    if (commandIds.length === 0) return new Map();
    // Not a prepared statement: PostgreSQL would keep, for the connection's life, a generic plan made while the log
    // was small, which reads the whole log (it grows by a row per command). Planned each time, it looks ids up by key.
    const rows = await this.#db.query<{ command_id: string; outcome: LoggedOutcome }>(
      `SELECT command_id, outcome FROM ledger.command_log
        WHERE command_id IN (SELECT value::uuid FROM jsonb_array_elements_text($1::jsonb))`,
      [JSON.stringify(commandIds)],
    );
    return new Map(rows.map((row) => [row.command_id, row.outcome]));
  }

  async putMany(outcomes: readonly LoggedOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.#db.query(
      `INSERT INTO ledger.command_log (command_id, stream_id, outcome)
       SELECT (o->>'commandId')::uuid, o->>'streamId', o FROM jsonb_array_elements($1::jsonb) AS o
       ON CONFLICT (command_id) DO NOTHING`,
      [JSON.stringify(outcomes)],
      { name: 'khata_command_log_put' },
    );
  }
}

export class SqlSnapshotStore implements SnapshotStore {
  readonly #db: SqlClient;

  constructor(db: SqlClient) {
    this.#db = db;
  }

  async load(streamId: string): Promise<Snapshot | null> {
    const rows = await this.#db.query<{
      version: string;
      shape_version: number;
      state: Snapshot['state'];
      last_hash: string;
    }>('SELECT version, shape_version, state, last_hash FROM ledger.snapshots WHERE stream_id = $1', [streamId], {
      name: 'khata_snapshot_load',
    });
    const row = rows[0];
    if (row === undefined) return null;
    return {
      streamId,
      version: BigInt(row.version),
      shapeVersion: row.shape_version,
      state: row.state,
      lastHash: row.last_hash,
    };
  }

  async save(snapshot: Snapshot): Promise<void> {
    await this.#db.query(
      `INSERT INTO ledger.snapshots (stream_id, version, shape_version, state, last_hash)
       VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (stream_id) DO UPDATE
         SET version = EXCLUDED.version, shape_version = EXCLUDED.shape_version, state = EXCLUDED.state,
             last_hash = EXCLUDED.last_hash, taken_at = now()
       WHERE ledger.snapshots.version < EXCLUDED.version`,
      [
        snapshot.streamId,
        snapshot.version.toString(),
        snapshot.shapeVersion,
        JSON.stringify(snapshot.state),
        snapshot.lastHash,
      ],
      { name: 'khata_snapshot_save' },
    );
  }
}
