/**
 * The worker role in a process of its own, as production runs it (SPEC §2: `api` and `worker` are separate
 * services): read models, the hot projection (Redis), process managers and the scheduler, on a benchmark's
 * database. The benchmark's own process then runs the API role only, and the two share the machine's cores
 * the way two pods on one node would.
 *
 * IPC protocol with `startWorkerProcess` below:
 *   ← {type:'ready'} once started
 *   → {type:'clock', at}            the worker's clock reads `at` from now on (benchmarks inject time)
 *   → {type:'settle', head, id}     ← {type:'settled', id} when read models and hot projection have `head`
 *   → {type:'stop'}                 closes Khata and exits
 */
import { type ChildProcess, fork } from 'node:child_process';
import { loadConfig } from '@khata/config';
import type { Position } from '@khata/event-store';
import { lowerPriority, openKhata } from '@khata/runtime';
import { type BenchEnvironment, khataEnvironment, REPO_ROOT, settle } from './billing-setup.ts';

const READY_TIMEOUT_MS = 60_000;
/**
 * The heap bounds `./khata start` gives a server, read from KHATA_HEAP_MB as the `khata` script reads it (160 MiB
 * unless told; 0: V8's own default): a worker that needs more than production allows it fails here too, and pays
 * for its garbage collection as production does, instead of growing unseen.
 */
function workerNodeFlags(): string[] {
  const heapMb = process.env.KHATA_HEAP_MB ?? '160';
  if (!/^[0-9]+$/.test(heapMb)) throw new Error(`KHATA_HEAP_MB must be a whole number of MiB, not '${heapMb}'`);
  return heapMb === '0'
    ? []
    : [`--max-old-space-size=${heapMb}`, '--max-semi-space-size=8', '--heap-growing-percent=100'];
}

interface WorkerRequest {
  readonly environment: BenchEnvironment;
  readonly redisKeyPrefix: string;
  readonly at: string;
}

type Message =
  | { readonly type: 'clock'; readonly at: string }
  | { readonly type: 'settle'; readonly head: string; readonly id: number }
  | { readonly type: 'stop' };

export interface WorkerProcess {
  readonly pid: number;
  setClock(at: Date): void;
  /** Resolves when the worker's read models and hot projection have every event up to `head`. */
  settle(head: Position): Promise<void>;
  stop(): Promise<void>;
}

/** Forks this file as the worker of `environment`, with its clock at `at`. */
export async function startWorkerProcess(request: WorkerRequest): Promise<WorkerProcess> {
  const child: ChildProcess = fork(import.meta.filename, [JSON.stringify(request)], {
    stdio: 'inherit',
    execArgv: [...process.execArgv, ...workerNodeFlags()],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the worker process did not start')), READY_TIMEOUT_MS);
    child.once('message', (message: { type: string }) => {
      clearTimeout(timer);
      if (message.type === 'ready') resolve();
      else reject(new Error(`unexpected ${message.type} from the worker process`));
    });
    child.once('exit', (code) => reject(new Error(`the worker process exited with ${code}`)));
  });
  let nextId = 0;
  const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  child.on('message', (message: { type: string; id?: number }) => {
    if (message.type !== 'settled' || message.id === undefined) return;
    waiting.get(message.id)?.resolve();
    waiting.delete(message.id);
  });
  // A worker that dies (out of heap, killed) fails what waits on it, so the benchmark's clean-up runs, instead of
  // waiting for ever or crashing on the closed channel with its database and Redis keys left behind.
  let gone: Error | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      gone = new Error(`the worker process exited (${signal ?? `code ${code}`})`);
      for (const { reject } of waiting.values()) reject(gone);
      waiting.clear();
      resolve();
    }),
  );
  child.on('error', (error) => {
    gone ??= error;
  });
  const send = (message: Message): void => {
    if (gone !== null || !child.connected) throw gone ?? new Error('the worker process is not connected');
    child.send(message);
  };
  return {
    pid: child.pid ?? 0,
    setClock(at) {
      send({ type: 'clock', at: at.toISOString() });
    },
    settle(head) {
      nextId += 1;
      const id = nextId;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        try {
          send({ type: 'settle', head, id });
        } catch (error) {
          waiting.delete(id);
          reject(error);
        }
      });
    },
    async stop() {
      if (gone === null && child.connected) child.send({ type: 'stop' } satisfies Message);
      await exited;
    },
  };
}

async function runWorker(request: WorkerRequest): Promise<void> {
  let now = Date.parse(request.at);
  const config = loadConfig(khataEnvironment(request.environment), { cwd: REPO_ROOT });
  // As `khata start --worker-only` without FreeSWITCH does: the background work yields the cores (WORKER_NICE).
  lowerPriority(config.worker.nice);
  const khata = await openKhata(config, {
    roles: { api: false, worker: true },
    migrate: true,
    clock: () => new Date(now),
    redisKeyPrefix: request.redisKeyPrefix,
  });
  await khata.start();
  process.on('message', (message: Message) => {
    if (message.type === 'clock') now = Date.parse(message.at);
    else if (message.type === 'settle') {
      void settle(khata, message.head as Position).then(() => process.send?.({ type: 'settled', id: message.id }));
    } else if (message.type === 'stop') {
      void khata.close().then(() => {
        // Its peak memory, for the benchmark's log (the memory benchmark measures the API's).
        const maxRssMiB = process.resourceUsage().maxRSS / 1024;
        process.stderr.write(`worker process: max RSS ${maxRssMiB.toFixed(0)} MiB\n`);
        process.exit(0);
      });
    }
  });
  // Never outlive the benchmark: when it goes, so does this process.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

if (process.send !== undefined && process.argv[2] !== undefined && import.meta.filename === process.argv[1]) {
  await runWorker(JSON.parse(process.argv[2]) as WorkerRequest);
}
