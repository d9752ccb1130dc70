/**
 * Group commit: requests that arrive while the previous flush is on its way are collected and sent
 * together in the next one, so many accounts' writes share one round trip and one commit (SPEC §14:
 * batches rather than one write per command). A lone request is flushed on the next turn of the event
 * loop, so it waits microseconds, not a timer; under load the batches grow by themselves.
 */
export interface GroupCommitOptions {
  /** Requests in one flush; more wait for the next. */
  readonly itemsMax: number;
  /** Flushes on their way at the same time (pool connections they may occupy). */
  readonly inFlightMax: number;
}

interface Waiting<Item, Result> {
  readonly item: Item;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit<Item, Result> {
  readonly #flush: (items: readonly Item[]) => Promise<readonly Result[]>;
  readonly #options: GroupCommitOptions;
  readonly #queue: Waiting<Item, Result>[] = [];
  #inFlight = 0;
  #scheduled = false;

  /** `flush` answers the items in order, one result per item; a throw fails every item of that flush. */
  constructor(flush: (items: readonly Item[]) => Promise<readonly Result[]>, options: GroupCommitOptions) {
    if (options.itemsMax < 1 || options.inFlightMax < 1) throw new RangeError('group commit bounds must be ≥ 1');
    this.#flush = flush;
    this.#options = options;
  }

  submit(item: Item): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#options.inFlightMax || this.#queue.length === 0) return;
    this.#scheduled = true;
    // setImmediate, not a microtask: every account writer woken in this turn gets to queue first.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    if (this.#inFlight >= this.#options.inFlightMax || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#options.itemsMax);
    this.#inFlight += 1;
    // Another flush may start at once with what is left, up to inFlightMax.
    this.#schedule();
    try {
      const results = await this.#flush(batch.map((waiting) => waiting.item));
      if (results.length !== batch.length) {
        throw new Error(`group commit flush answered ${results.length} of ${batch.length} items`);
      }
      batch.forEach((waiting, index) => {
        waiting.resolve(results[index] as Result);
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    } finally {
      this.#inFlight -= 1;
      this.#schedule();
    }
  }
}
