import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the projector (`khata_projection_*`), registered on the given registry. */
export class ProjectorMetrics {
  readonly #lagEvents: Gauge;
  readonly #lagSeconds: Gauge;
  readonly #events: Counter;
  readonly #batchSeconds: Histogram;
  readonly #poisoned: Counter;
  readonly #now: () => number;

  constructor(registry: Registry, now: () => number = () => Date.now()) {
    this.#now = now;
    this.#lagEvents = new Gauge({
      name: 'khata_projection_lag_events',
      help: 'Events of the log a projection shard has not applied yet (counted up to 100000)',
      labelNames: ['projection', 'shard'],
      registers: [registry],
    });
    this.#lagSeconds = new Gauge({
      name: 'khata_projection_lag_seconds',
      help: 'Age of the newest event a projection shard has applied, while it is behind; 0 when caught up',
      labelNames: ['projection', 'shard'],
      registers: [registry],
    });
    this.#events = new Counter({
      name: 'khata_projection_events_total',
      help: 'Events applied by projection',
      labelNames: ['projection'],
      registers: [registry],
    });
    this.#batchSeconds = new Histogram({
      name: 'khata_projection_batch_seconds',
      help: 'Time to apply one batch and move the checkpoint',
      labelNames: ['projection'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    });
    this.#poisoned = new Counter({
      name: 'khata_projection_poison_events_total',
      help: 'Events a projection could not apply (it stops at each)',
      labelNames: ['projection'],
      registers: [registry],
    });
  }

  /** One batch of the log applied to some shards of a read model in one transaction. */
  batchApplied(
    projection: string,
    shards: readonly { readonly shard: number; readonly events: number; readonly lastStoredAt: Date | null }[],
    seconds: number,
    caughtUp: boolean,
  ): void {
    this.#batchSeconds.observe({ projection }, seconds);
    for (const { shard, events, lastStoredAt } of shards) {
      this.#events.inc({ projection }, events);
      const labels = { projection, shard: String(shard) };
      if (caughtUp) {
        this.#lagEvents.set(labels, 0);
        this.#lagSeconds.set(labels, 0);
      } else if (lastStoredAt !== null) {
        this.#lagSeconds.set(labels, Math.max(0, (this.#now() - lastStoredAt.getTime()) / 1000));
      }
    }
  }

  lag(projection: string, shard: number, events: number): void {
    this.#lagEvents.set({ projection, shard: String(shard) }, events);
  }

  poisoned(projection: string, shard: number): void {
    this.#poisoned.inc({ projection });
    void shard;
  }
}
