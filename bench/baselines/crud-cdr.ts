/**
 * The baseline of the CDR ingest benchmark (SPEC §14): CDR rating as a naive CRUD design does it, the
 * way an ORM-style service would be written. Per CDR: open a transaction, read the account row, compute
 * the cost, update the balance row, insert a CDR row, commit. Costs come from the same domain rating
 * functions Khata uses (plan overage tariff, free minutes first in the plan's pulse), so both must end
 * with the same balance on every account.
 *
 * It is given a fair chance: a pool of connections with one worker each, every worker owning a share of
 * the accounts (so each account's CDRs are rated in arrival order, as Khata's single writer does, and
 * no two transactions wait on the same row), prepared statements, and the indexes an ORM would create
 * (primary keys, the foreign key's index, a unique key per call and leg for idempotency).
 */
import { type AccountRules, Money, rateWithAllowance } from '@khata/domain';
import pg from 'pg';
import type { BenchCdr } from '../lib/cdr-workload.ts';

export interface CrudAccount {
  readonly accountId: string;
  readonly planId: string;
  readonly billingMode: string;
  /** Rupees, as the balances read model has it after the account was set up. */
  readonly balance: string;
  readonly freeSeconds: number;
  readonly freeSecondsUsed: number;
}

const SCHEMA = `
CREATE TABLE accounts (
  account_id        uuid          PRIMARY KEY,
  plan_id           text          NOT NULL,
  billing_mode      text          NOT NULL,
  balance           numeric(20,4) NOT NULL,
  free_seconds      integer       NOT NULL,
  free_seconds_used integer       NOT NULL,
  updated_at        timestamptz   NOT NULL DEFAULT now()
);
CREATE TABLE cdrs (
  id                bigserial     PRIMARY KEY,
  account_id        uuid          NOT NULL REFERENCES accounts (account_id),
  call_id           text          NOT NULL,
  leg               text          NOT NULL,
  destination       text          NOT NULL,
  started_at        timestamptz   NOT NULL,
  answered_at       timestamptz,
  billable_ms       integer       NOT NULL,
  billed_seconds    integer       NOT NULL,
  free_seconds_used integer       NOT NULL,
  cost              numeric(20,4) NOT NULL,
  rated_at          timestamptz   NOT NULL DEFAULT now(),
  UNIQUE (account_id, call_id, leg)
);
CREATE INDEX cdrs_account_idx ON cdrs (account_id);`;

const INSERT_ACCOUNTS_SLICE = 1_000;

export class CrudCdrBaseline {
  readonly #pool: pg.Pool;
  readonly #rules: AccountRules;
  readonly #connections: number;

  constructor(databaseUrl: string, rules: AccountRules, connections: number) {
    this.#pool = new pg.Pool({ connectionString: databaseUrl, max: connections, application_name: 'khata-bench-crud' });
    this.#rules = rules;
    this.#connections = connections;
  }

  async prepare(accounts: readonly CrudAccount[]): Promise<void> {
    await this.#pool.query(SCHEMA);
    for (let start = 0; start < accounts.length; start += INSERT_ACCOUNTS_SLICE) {
      const slice = accounts.slice(start, start + INSERT_ACCOUNTS_SLICE);
      await this.#pool.query(
        `INSERT INTO accounts (account_id, plan_id, billing_mode, balance, free_seconds, free_seconds_used)
         SELECT * FROM jsonb_to_recordset($1::jsonb)
           AS a(account_id uuid, plan_id text, billing_mode text, balance numeric, free_seconds int, free_seconds_used int)`,
        [
          JSON.stringify(
            slice.map((a) => ({
              account_id: a.accountId,
              plan_id: a.planId,
              billing_mode: a.billingMode,
              balance: a.balance,
              free_seconds: a.freeSeconds,
              free_seconds_used: a.freeSecondsUsed,
            })),
          ),
        ],
      );
    }
    await this.#pool.query('VACUUM ANALYZE accounts');
    // Every connection opened before the clock starts.
    const clients = await Promise.all(Array.from({ length: this.#connections }, () => this.#pool.connect()));
    for (const client of clients) client.release();
  }

  /** Rates every CDR, one transaction each; `partitionOf` says which worker owns an account. */
  async ingest(cdrs: readonly BenchCdr[], partitionOf: (accountId: string) => number): Promise<void> {
    const queues: BenchCdr[][] = Array.from({ length: this.#connections }, () => []);
    for (const cdr of cdrs) queues[partitionOf(cdr.accountId) % this.#connections]?.push(cdr);
    await Promise.all(queues.map((queue) => this.#worker(queue)));
  }

  async #worker(queue: readonly BenchCdr[]): Promise<void> {
    const client = await this.#pool.connect();
    try {
      for (const cdr of queue) await this.#rate(client, cdr);
    } finally {
      client.release();
    }
  }

  async #rate(client: pg.PoolClient, cdr: BenchCdr): Promise<void> {
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{
        plan_id: string;
        balance: string;
        free_seconds: number;
        free_seconds_used: number;
      }>({
        name: 'crud_account',
        text: 'SELECT plan_id, balance, free_seconds, free_seconds_used FROM accounts WHERE account_id = $1',
        values: [cdr.accountId],
      });
      const account = rows[0];
      if (account === undefined) throw new Error(`no account ${cdr.accountId}`);
      const plan = this.#rules.plan(account.plan_id);
      if (plan === undefined) throw new Error(`no plan ${account.plan_id}`);
      const answered = cdr.answeredAt !== null && cdr.billableMilliseconds > 0;
      const rated = rateWithAllowance(
        plan.overageTariff,
        {
          dialled: cdr.destination,
          start: new Date(cdr.answeredAt ?? cdr.startedAt),
          durationSeconds: answered ? Math.ceil(cdr.billableMilliseconds / 1_000) : 0,
          answered,
        },
        {
          freeSecondsLeft: Math.max(0, account.free_seconds - account.free_seconds_used),
          pulseSeconds: plan.pulseSeconds,
        },
      );
      if (rated === null) throw new Error(`the plan does not rate ${cdr.destination}`);
      await client.query({
        name: 'crud_balance',
        text: 'UPDATE accounts SET balance = $2, free_seconds_used = $3, updated_at = now() WHERE account_id = $1',
        values: [
          cdr.accountId,
          Money.parse(account.balance).minus(rated.cost).toString(),
          account.free_seconds_used + rated.freeSecondsUsed,
        ],
      });
      await client.query({
        name: 'crud_cdr',
        text: `INSERT INTO cdrs (account_id, call_id, leg, destination, started_at, answered_at, billable_ms,
                                 billed_seconds, free_seconds_used, cost)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        values: [
          cdr.accountId,
          cdr.callId,
          cdr.leg,
          cdr.destination,
          cdr.startedAt,
          cdr.answeredAt,
          cdr.billableMilliseconds,
          rated.billedSeconds,
          rated.freeSecondsUsed,
          rated.cost.toString(),
        ],
      });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }

  async balances(): Promise<Map<string, string>> {
    const { rows } = await this.#pool.query<{ account_id: string; balance: string }>(
      'SELECT account_id, balance FROM accounts',
    );
    return new Map(rows.map((row) => [row.account_id, row.balance]));
  }

  async cdrCount(): Promise<number> {
    const { rows } = await this.#pool.query<{ count: string }>('SELECT count(*) AS count FROM cdrs');
    return Number(rows[0]?.count ?? 0);
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}
