import type { Position } from '@khata/event-store';
import type { HotAccount, HotApplyResult, HotStore, HotUpdate } from '@khata/hot-projection';
import { accountStates } from '@khata/projections';
import type { Khata } from '@khata/runtime';

/**
 * The baseline of the authorize benchmark: what a design without a hot projection does. Each
 * authorization reads the account's folded state from the PostgreSQL balances read model (one indexed
 * row, its state column parsed), and the same `CallAuthorizer` runs the same decider on it. Nothing is
 * kept between requests, so the only difference from Khata's path is where the state comes from.
 * Writes are refused: nothing projects into it.
 */
export class ReadModelStore implements HotStore {
  /** The authorizer never reads `kind`; it labels the hot projection in `khata start`'s banner. */
  readonly kind = 'memory';
  readonly #khata: Pick<Khata, 'readDb' | 'readModelSchema'>;

  constructor(khata: Pick<Khata, 'readDb' | 'readModelSchema'>) {
    this.#khata = khata;
  }

  async get(accountId: string): Promise<HotAccount | null> {
    const schema = await this.#khata.readModelSchema('balances');
    const [row] = await accountStates(this.#khata.readDb, schema, [accountId]);
    return row === undefined ? null : { version: row.version, state: row.state };
  }

  async apply(_updates: readonly HotUpdate[], _checkpoint: Position | null): Promise<HotApplyResult[]> {
    throw new Error('the read-model baseline is read-only');
  }

  async checkpoint(): Promise<Position | null> {
    return null;
  }

  async clear(): Promise<void> {}

  async close(): Promise<void> {}
}
