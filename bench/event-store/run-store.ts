import { parseArgs } from 'node:util';
import {
  FULL_SCALE,
  QUICK_SCALE,
  runWorkloads,
  type StoreUnderTest,
  WARM_UP_SCALE,
  WORKLOAD_NAMES,
  type WorkloadName,
} from './workloads.ts';

/**
 * One store, one run, in a process of its own (started by main.ts). Separate processes keep the stores
 * from influencing each other: Emmett's driver layer replaces the `pg` module's global type parsers
 * (int8 to BigInt, JSON with a reviver), which would otherwise also slow Khata's reads, and each store
 * gets its own JIT warm-up and heap. Prints one JSON line: `{store, warmUpSeconds, results}`.
 */

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    'database-url': { type: 'string' },
    'pool-connections': { type: 'string' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});

/** `--only a,b`: a subset of the workloads, for investigating one of them. */
function chosenWorkloads(list: string | undefined): readonly WorkloadName[] {
  if (list === undefined) return WORKLOAD_NAMES;
  const names = list.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(WORKLOAD_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown workload ${name}: choose from ${WORKLOAD_NAMES.join(', ')}`);
    }
  }
  return names as WorkloadName[];
}

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

const only = chosenWorkloads(values.only);
const target = await open(values.store);
try {
  const warmUpStart = performance.now();
  await runWorkloads(target, WARM_UP_SCALE, only);
  const warmUpSeconds = (performance.now() - warmUpStart) / 1000;
  const results = await runWorkloads(target, values.quick ? QUICK_SCALE : FULL_SCALE, only);
  process.stdout.write(`${JSON.stringify({ store: values.store, warmUpSeconds, results })}\n`);
} finally {
  await target.close();
}
