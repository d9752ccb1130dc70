/**
 * `pnpm bench <name> [options]` runs `bench/<name>/main.ts` with the remaining options; without a
 * name it lists the benchmarks. Each benchmark is its own program so that its process holds only
 * what it measures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const BENCH_ROOT = join(import.meta.dirname, '..');
const NOT_BENCHMARKS = new Set(['src', 'lib', 'baselines', 'node_modules', '.tsbuild']);

function benchmarks(): string[] {
  return readdirSync(BENCH_ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !NOT_BENCHMARKS.has(entry.name))
    .filter((entry) => existsSync(join(BENCH_ROOT, entry.name, 'main.ts')))
    .map((entry) => entry.name)
    .sort();
}

const [name, ...rest] = process.argv.slice(2);
const known = benchmarks();
if (name === undefined || name === '--help' || name === '-h') {
  process.stdout.write(`usage: pnpm bench <name> [options]\nbenchmarks: ${known.join(', ')}\n`);
  process.exit(name === undefined ? 1 : 0);
}
if (!known.includes(name)) {
  process.stderr.write(`unknown benchmark "${name}"; known: ${known.join(', ')}\n`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [...process.execArgv, join(BENCH_ROOT, name, 'main.ts'), ...rest], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
