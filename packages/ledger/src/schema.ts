import { derivedSql, type MigrationSet } from '@khata/sql';

/** Version 2 of `ledger.append_and_log` (a shipped migration's text never changes). */
const APPEND_AND_LOG_V2 = `
CREATE FUNCTION ledger.append_and_log(p_appends jsonb, p_notify boolean)
RETURNS TABLE (idx integer, outcome text, next_version bigint, last_tx xid8, last_gp bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  v_refused integer[];
  v_fresh jsonb;
  v_map integer[];
BEGIN
  SELECT coalesce(array_agg((a.ordinality - 1)::integer), '{}')
    INTO v_refused
    FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS a(value, ordinality)
   WHERE coalesce((a.value->>'g')::boolean, false)
     AND EXISTS (
       SELECT 1 FROM jsonb_array_elements(coalesce(a.value->'r', '[]'::jsonb)) AS r(value)
         JOIN ledger.command_log l ON l.command_id = (r.value->>'commandId')::uuid);
  SELECT coalesce(jsonb_agg(a.value ORDER BY a.ordinality), '[]'::jsonb),
         coalesce(array_agg((a.ordinality - 1)::integer ORDER BY a.ordinality), '{}')
    INTO v_fresh, v_map
    FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS a(value, ordinality)
   WHERE NOT ((a.ordinality - 1)::integer = ANY (v_refused));
  RETURN QUERY
  WITH appended AS MATERIALIZED (
    SELECT * FROM es.append_to_streams(v_fresh, p_notify)
  ),
  logged AS (
    INSERT INTO ledger.command_log (command_id, stream_id, outcome)
    SELECT (r.value->>'commandId')::uuid, r.value->>'streamId', r.value
      FROM appended ap
      JOIN jsonb_array_elements(v_fresh) WITH ORDINALITY AS a(value, ordinality)
        ON ap.idx = (a.ordinality - 1)::integer
      CROSS JOIN LATERAL jsonb_array_elements(coalesce(a.value->'r', '[]'::jsonb)) AS r(value)
     WHERE ap.outcome = 'ok'
    ON CONFLICT (command_id) DO NOTHING
  )
  SELECT v_map[ap.idx + 1], ap.outcome, ap.next_version, ap.last_tx, ap.last_gp FROM appended ap
  UNION ALL
  SELECT u.i, 'refused'::text, NULL::bigint, NULL::xid8, NULL::bigint FROM unnest(v_refused) AS u(i)
  ORDER BY 1;
END
$fn$;`;

/** Version 3, derived from version 2's text (the result is byte for byte the text that shipped). */
const APPEND_AND_LOG_V3 = derivedSql(APPEND_AND_LOG_V2, [
  ['CREATE FUNCTION ledger.append_and_log(', 'CREATE OR REPLACE FUNCTION ledger.append_and_log('],
  [
    `  SELECT coalesce(jsonb_agg(a.value ORDER BY a.ordinality), '[]'::jsonb),
         coalesce(array_agg((a.ordinality - 1)::integer ORDER BY a.ordinality), '{}')
    INTO v_fresh, v_map
    FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS a(value, ordinality)
   WHERE NOT ((a.ordinality - 1)::integer = ANY (v_refused));
`,
    `  IF cardinality(v_refused) = 0 THEN
    v_fresh := p_appends;
  ELSE
    SELECT coalesce(jsonb_agg(a.value ORDER BY a.ordinality), '[]'::jsonb),
           coalesce(array_agg((a.ordinality - 1)::integer ORDER BY a.ordinality), '{}')
      INTO v_fresh, v_map
      FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS a(value, ordinality)
     WHERE NOT ((a.ordinality - 1)::integer = ANY (v_refused));
  END IF;
`,
  ],
  [
    `  SELECT v_map[ap.idx + 1], ap.outcome, ap.next_version, ap.last_tx, ap.last_gp FROM appended ap
`,
    `  SELECT CASE WHEN v_map IS NULL THEN ap.idx ELSE v_map[ap.idx + 1] END,
         ap.outcome, ap.next_version, ap.last_tx, ap.last_gp
    FROM appended ap
`,
  ],
]);

/**
 * Version 3 with the command log reached by key only, whatever the planner believes of its size: the check for
 * commands already logged joined each guarded append's command ids with `ledger.command_log`, and PL/pgSQL keeps the
 * plan it made for the rest of the session, until the table's statistics change. Made while the log held 10 commands
 * and used at 200,000 it read the log whole: 41 ms for one append (`psql` with `auto_explain`, 2026-12-06); the log
 * grows by a row per command, faster than autovacuum analyzes it under a burst. Sequential scans are off inside the
 * function, and the ids are an index condition (`= ANY`) so that no join can walk the whole primary key.
 */
const APPEND_AND_LOG_V4 = derivedSql(APPEND_AND_LOG_V3, [
  ['LANGUAGE plpgsql AS $fn$', 'LANGUAGE plpgsql SET enable_seqscan = off AS $fn$'],
  [
    `     AND EXISTS (
       SELECT 1 FROM jsonb_array_elements(coalesce(a.value->'r', '[]'::jsonb)) AS r(value)
         JOIN ledger.command_log l ON l.command_id = (r.value->>'commandId')::uuid);`,
    `     AND EXISTS (
       SELECT 1 FROM ledger.command_log l
        WHERE l.command_id = ANY (ARRAY(
          SELECT (r.value->>'commandId')::uuid FROM jsonb_array_elements(coalesce(a.value->'r', '[]'::jsonb)) AS r(value))));`,
  ],
]);

/**
 * The command handler's own tables, beside the read models: the command log (the outcome of every
 * command id, rejections included, so a retried command gets its first answer) and snapshots of long
 * account streams.
 */
export const ledgerMigrations: MigrationSet = {
  namespace: 'ledger',
  migrations: [
    {
      version: 1,
      name: 'command log and snapshots',
      sql: `
CREATE SCHEMA IF NOT EXISTS ledger;
CREATE TABLE ledger.command_log (
  command_id  uuid        PRIMARY KEY,
  stream_id   text        NOT NULL,
  outcome     jsonb       NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_log_recorded_at_idx ON ledger.command_log (recorded_at);
CREATE TABLE ledger.snapshots (
  stream_id     text        PRIMARY KEY,
  version       bigint      NOT NULL,
  shape_version integer     NOT NULL,
  state         jsonb       NOT NULL,
  last_hash     text        NOT NULL,
  taken_at      timestamptz NOT NULL DEFAULT now()
);`,
    },
    {
      version: 2,
      name: 'append and log in one statement',
      // plpgsql, so that creating it does not need the event store's schema (absent with EventStoreDB, where the
      // function is never called). The group append runs first (the CTE is read by the outer query before the
      // INSERT, which PostgreSQL finishes after it), so es.append_to_streams is still its transaction's first write.
      // An append marked "g" is made only if none of its commands is in the log yet, so the writer need not read
      // the log before an append; a refused one is answered `refused`, and the writer reads the log and answers
      // from it.
      sql: APPEND_AND_LOG_V2,
    },
    {
      version: 3,
      name: 'append and log: no copy of the payload when nothing is refused',
      // Version 2 rebuilt the whole payload (every event of the group, about 1 KiB each) with jsonb_agg to leave
      // out refused appends even when none was refused, the usual case: a third of the function's time under a
      // CDR burst. Without refusals the payload is used as it came and indexes map to themselves (v_map NULL).
      sql: APPEND_AND_LOG_V3,
    },
    { version: 4, name: 'append and log: the command log reached by key only', sql: APPEND_AND_LOG_V4 },
  ],
};

/**
 * The function that appends a group of streams and writes their commands' log entries in one statement
 * (SqlEventStoreOptions.appendFunction): no round trip for the log after the append, and no moment in which
 * an append is stored without its commands' outcomes.
 */
export const APPEND_AND_LOG_FUNCTION = 'ledger.append_and_log';
