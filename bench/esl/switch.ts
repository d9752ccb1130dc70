/**
 * The FreeSWITCH side of `pnpm bench:esl`, in a process of its own so that the switch and Khata do not share an
 * event loop (on the 2-core machine each gets a core, as a real switch would have its own). It runs the
 * FreeSWITCH stand-in, parks calls at the asked rate, and times each one from the moment its CHANNEL_PARK is
 * written to the moment the stand-in receives `uuid_transfer` (or `uuid_kill`) for it — both on this process's
 * clock, so no clock is compared across processes. Authorized calls are answered and hung up after a hold
 * time, so CHANNEL_ANSWER and CHANNEL_HANGUP_COMPLETE (and Khata's rating) load the connector as in
 * production.
 *
 * Protocol (IPC with main.ts): → {type:'ready', port}; ← {type:'run', …RunRequest}; → {type:'done', …RunResult}.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FreeswitchStandIn } from '@khata/esl/testing';

export interface RunRequest {
  readonly parksPerSecond: number;
  readonly parks: number;
  /** Toll-free numbers to call, round robin. */
  readonly numbers: readonly string[];
  /** How long an authorized call lasts after its answer. */
  readonly holdMilliseconds: number;
  /** Calls whose latency is not counted (the first ones: JIT, caches). */
  readonly warmUpParks: number;
}

export interface RunResult {
  /** Park → uuid_transfer, microseconds, counted calls only. */
  readonly transferMicroseconds: number[];
  /** Park → uuid_kill, microseconds, counted calls only. */
  readonly killMicroseconds: number[];
  /** The counted calls' uuids, so that the connector's own timings of the same calls can be picked out. */
  readonly countedCallIds: string[];
  /** Parks that got no decision before the run ended. */
  readonly undecided: number;
  readonly offeredSeconds: number;
  /**
   * This process's event-loop delay during the run, microseconds: a reply waits that long before the switch
   * reads it and stops its clock, so the measured latency includes the switch's own delays.
   */
  readonly switchLoopDelayMicroseconds: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** Parks are sent in ticks; each tick sends what the rate owes since the start (no drift, no bursts). */
const TICK_MILLISECONDS = 2;
/** After the last park, how long decisions may still arrive. */
const DRAIN_MILLISECONDS = 10_000;
const CALLER = '+919876500001';

const clockMicroseconds = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

const standIn = await FreeswitchStandIn.start({ clockMicroseconds, localTimeOffsetMinutes: 330 });
const send = (message: object): void => {
  process.send?.(message);
};

async function run(request: RunRequest): Promise<RunResult> {
  const parkedAt = new Map<string, { at: number; counted: boolean }>();
  const transferMicroseconds: number[] = [];
  const killMicroseconds: number[] = [];
  const countedCallIds: string[] = [];
  let seen = 0;
  // Every command the stand-in records is looked at once, in order.
  const collect = (): void => {
    const commands = standIn.commands;
    for (; seen < commands.length; seen++) {
      const command = commands[seen];
      const match = command === undefined ? null : /^api (uuid_transfer|uuid_kill) (\S+)/.exec(command.line);
      const uuid = match?.[2];
      if (command === undefined || match === null || uuid === undefined) continue;
      const park = parkedAt.get(uuid);
      if (park === undefined) continue;
      parkedAt.delete(uuid);
      const latency = command.receivedAtMicroseconds - park.at;
      if (match[1] === 'uuid_transfer') {
        if (park.counted) transferMicroseconds.push(latency);
        // The call goes on: answered at once, hung up after the hold time (the connector then rates its CDR).
        setImmediate(() => {
          if (standIn.channel(uuid)?.state !== 'routing') return;
          standIn.answer(uuid);
          setTimeout(() => {
            if (standIn.channel(uuid)?.state === 'answered') {
              standIn.hangup(uuid, 'NORMAL_CLEARING', request.holdMilliseconds);
            }
          }, request.holdMilliseconds).unref();
        });
      } else if (park.counted) {
        killMicroseconds.push(latency);
      }
    }
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const collector = setInterval(collect, 1);
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const owed = Math.min(request.parks, Math.floor(((performance.now() - started) / 1000) * request.parksPerSecond));
      for (; sent < owed; sent++) {
        const uuid = randomUUID();
        if (sent >= request.warmUpParks) countedCallIds.push(uuid);
        parkedAt.set(uuid, { at: clockMicroseconds(), counted: sent >= request.warmUpParks });
        standIn.park({
          uuid,
          callerNumber: CALLER,
          destination: request.numbers[sent % request.numbers.length] as string,
          context: 'public',
        });
      }
      if (sent >= request.parks) {
        clearInterval(tick);
        resolve();
      }
    }, TICK_MILLISECONDS);
  });
  const offeredSeconds = (performance.now() - started) / 1000;
  const deadline = performance.now() + DRAIN_MILLISECONDS;
  while (parkedAt.size > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    collect();
  }
  clearInterval(collector);
  collect();
  loopDelay.disable();
  // The histogram records nanoseconds.
  const switchLoopDelayMicroseconds = {
    p50: loopDelay.percentile(50) / 1000,
    p99: loopDelay.percentile(99) / 1000,
    max: loopDelay.max / 1000,
  };
  return {
    transferMicroseconds,
    killMicroseconds,
    countedCallIds,
    undecided: parkedAt.size,
    offeredSeconds,
    switchLoopDelayMicroseconds,
  };
}

process.on('message', (message: { type: string } & RunRequest) => {
  if (message.type === 'run') {
    void run(message).then((result) => send({ type: 'done', ...result }));
  } else if (message.type === 'stop') {
    void standIn.close().then(() => process.exit(0));
  }
});
// Never outlive the benchmark: when it goes, so does this process.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', port: standIn.port });
