/**
 * HTTP load on `POST /api/v1/calls/authorize` with autocannon, at a fixed rate for a fixed time.
 *
 * autocannon limits a rate per connection per second: each connection sends its quota for the second
 * back to back at the start of the second, then waits for the next one. One instance at 2,000
 * requests/s therefore fires its whole second's work in a burst. To come closer to calls arriving
 * evenly, the load is split over several autocannon instances of a few connections each, started at
 * evenly spaced offsets within the first second, so their bursts interleave. Latency is autocannon's
 * own per-response time (request written → response complete), collected raw from its `response`
 * events and summarised here over all instances (autocannon's coordinated-omission correction assumes
 * an interval of 1/rate milliseconds per connection, which does not describe this schedule).
 */
import autocannon from 'autocannon';
import { percentile } from '../event-store/stats.ts';

export interface LoadPlan {
  readonly port: number;
  readonly token: string;
  readonly ratePerSecond: number;
  readonly seconds: number;
  readonly instances: number;
  readonly connectionsPerInstance: number;
  /** The JSON body of the n-th request (n counts from 0 over all instances). */
  readonly body: (sequence: number) => string;
}

export interface LoadResult {
  readonly requests: number;
  readonly responses: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  /** Answers by `reason` (OK, ACCOUNT_SUSPENDED, …). */
  readonly reasons: Readonly<Record<string, number>>;
  readonly elapsedSeconds: number;
  readonly ratePerSecond: number;
  readonly latencyMilliseconds: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p999: number;
    readonly max: number;
    readonly mean: number;
  };
}

/** Seconds autocannon waits for a response before counting a timeout. */
const RESPONSE_TIMEOUT_SECONDS = 10;

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  let sequence = 0;
  const perInstance = plan.ratePerSecond / plan.instances;
  if (!Number.isInteger(perInstance) || perInstance < plan.connectionsPerInstance) {
    throw new Error(`the rate ${plan.ratePerSecond}/s must split evenly over ${plan.instances} instances`);
  }
  const offsetMilliseconds = 1_000 / plan.instances;
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: plan.instances }, async (_, index) => {
      await new Promise((done) => setTimeout(done, index * offsetMilliseconds));
      return new Promise<autocannon.Result>((resolve, reject) => {
        const instance = autocannon(
          {
            url: `http://127.0.0.1:${plan.port}/api/v1/calls/authorize`,
            method: 'POST',
            headers: { authorization: `Bearer ${plan.token}`, 'content-type': 'application/json' },
            connections: plan.connectionsPerInstance,
            overallRate: perInstance,
            duration: plan.seconds,
            timeout: RESPONSE_TIMEOUT_SECONDS,
            ignoreCoordinatedOmission: true,
            requests: [
              {
                setupRequest: (request) => ({ ...request, body: plan.body(sequence++) }),
                onResponse: (status, body) => {
                  statusCounts[status] = (statusCounts[status] ?? 0) + 1;
                  const reason = status === 200 ? reasonOf(body) : `HTTP ${status}`;
                  reasons[reason] = (reasons[reason] ?? 0) + 1;
                },
              },
            ],
          },
          (error, result) => (error ? reject(error) : resolve(result)),
        );
        instance.on('response', (_client, _status, _bytes, responseTimeMilliseconds) => {
          latencies.push(responseTimeMilliseconds);
        });
      });
    }),
  );
  const elapsedSeconds = (performance.now() - started) / 1_000;
  const sum = (pick: (result: autocannon.Result) => number): number =>
    results.reduce((total, result) => total + pick(result), 0);
  const responses = latencies.length;
  return {
    requests: sum((result) => result.requests.sent),
    responses,
    errors: sum((result) => result.errors),
    timeouts: sum((result) => result.timeouts),
    non2xx: sum((result) => result.non2xx),
    statusCounts,
    reasons,
    elapsedSeconds,
    // Over the configured duration: the instances' staggered starts add under a second of wall time.
    ratePerSecond: responses / plan.seconds,
    latencyMilliseconds:
      responses === 0
        ? { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, p999: Number.NaN, max: Number.NaN, mean: Number.NaN }
        : {
            p50: percentile(latencies, 0.5),
            p90: percentile(latencies, 0.9),
            p99: percentile(latencies, 0.99),
            p999: percentile(latencies, 0.999),
            max: latencies.reduce((largest, value) => Math.max(largest, value), 0),
            mean: latencies.reduce((total, value) => total + value, 0) / responses,
          },
  };
}

function reasonOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { reason?: unknown };
    return typeof parsed.reason === 'string' ? parsed.reason : 'no reason';
  } catch {
    return 'unparsable body';
  }
}
