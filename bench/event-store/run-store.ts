import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  FULL_SCALE,
  QUICK_SCALE,
  runWorkload,
  type StoreUnderTest,
  WARM_UP_SCALE,
  WORKLOAD_NAMES,
  type WorkloadName,
} from './workloads.ts';

/**
 * One store in a process of its own, driven by main.ts. Separate processes keep the stores from
 * influencing each other: Emmett's driver layer replaces the `pg` module's global type parsers (int8 to
 * BigInt, JSON with a reviver), which would otherwise also slow Khata's reads, and each store gets its
 * own JIT warm-up and heap.
 *
 * Protocol: one JSON command per stdin line, one JSON answer per stdout line.
 * `{"command":"warm-up","workloads":[…]}` → `{"warmUpSeconds":n}`;
 * `{"command":"run","workload":"…"}` → a WorkloadResult; `{"command":"close"}` → `{"closed":true}`.
 * main.ts keeps the stores' processes open side by side, so it can run each workload on one store right
 * after the other and compare figures measured under the same background load.
 */

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    'database-url': { type: 'string' },
    'pool-connections': { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

type Command =
  | { readonly command: 'warm-up'; readonly workloads: readonly WorkloadName[] }
  | { readonly command: 'run'; readonly workload: WorkloadName }
  | { readonly command: 'close' };

async function open(store: string | undefined): Promise<StoreUnderTest> {
  const connectionString = values['database-url'] ?? '';
  const poolConnections = Number(values['pool-connections'] ?? '10');
  switch (store) {
    case 'khata': {
      const { openKhataTarget } = await import('./khata-target.ts');
      return openKhataTarget({ database: 'postgres', connectionString, poolConnections });
    }
    case 'pglite': {
      const { openKhataTarget } = await import('./khata-target.ts');
      return openKhataTarget({ database: 'pglite' });
    }
    case 'emmett': {
      // Imported only here, so the Khata processes never load Emmett's global parser changes.
      const { openEmmettTarget } = await import('./emmett-target.ts');
      return openEmmettTarget({ connectionString, poolConnections });
    }
    default:
      throw new Error(`unknown store ${String(store)}: use khata, emmett or pglite`);
  }
}

function checkWorkload(name: unknown): WorkloadName {
  if (!(WORKLOAD_NAMES as readonly unknown[]).includes(name)) {
    throw new Error(`unknown workload ${String(name)}: choose from ${WORKLOAD_NAMES.join(', ')}`);
  }
  return name as WorkloadName;
}

function answer(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

const target = await open(values.store);
const scale = values.quick ? QUICK_SCALE : FULL_SCALE;
try {
  // Commands arrive one at a time: main.ts waits for each answer before sending the next.
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const command = JSON.parse(line) as Command;
    if (command.command === 'close') break;
    if (command.command === 'warm-up') {
      const startMs = performance.now();
      for (const workload of command.workloads) await runWorkload(target, WARM_UP_SCALE, checkWorkload(workload));
      answer({ warmUpSeconds: (performance.now() - startMs) / 1000 });
    } else if (command.command === 'run') {
      answer(await runWorkload(target, scale, checkWorkload(command.workload)));
    } else {
      throw new Error(`unknown command ${line}`);
    }
  }
} finally {
  await target.close();
}
answer({ closed: true });
// stdin stays open until the parent closes it; nothing is left to do, so leave without waiting.
process.stdin.destroy();
