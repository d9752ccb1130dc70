/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time by function and by package, so a profile
 * can be quoted in bench/RESULTS.md without opening it in a browser.
 *
 *   node bench/lib/cpu-profile.ts /tmp/profiles/server-memory.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly milliseconds: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMilliseconds: number;
  readonly idleShare: number;
  readonly byFunction: readonly SelfTime[];
  readonly byPackage: readonly SelfTime[];
}

/** Where a function lives: a workspace package, a dependency, or Node itself. */
function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency !== null) return dependency[1] as string;
  if (url.startsWith('node:')) return 'node';
  const workspace = /\/work\/main\/((?:packages|services|projections|bench|schemas)\/[^/]+)/.exec(url);
  return workspace?.[1] ?? url;
}

function ranked(totals: Map<string, number>, all: number, top: number): SelfTime[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, microseconds]) => ({ name, milliseconds: microseconds / 1_000, share: microseconds / all }));
}

export function summarise(profile: Profile, top: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functionTotals = new Map<string, number>();
  const packageTotals = new Map<string, number>();
  let all = 0;
  let idle = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    const node = byId.get(id);
    if (node === undefined) return;
    all += delta;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') idle += delta;
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '');
    const name = `${functionName || '(anonymous)'} ${file === '' ? '' : `${file}:${lineNumber + 1}`}`.trim();
    functionTotals.set(name, (functionTotals.get(name) ?? 0) + delta);
    const owner = packageOf(url, functionName);
    packageTotals.set(owner, (packageTotals.get(owner) ?? 0) + delta);
  });
  return {
    totalMilliseconds: all / 1_000,
    idleShare: all === 0 ? 0 : idle / all,
    byFunction: ranked(functionTotals, all, top),
    byPackage: ranked(packageTotals, all, top),
  };
}

if (import.meta.main) {
  const TOP_DEFAULT = 25;
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: String(TOP_DEFAULT) } },
  });
  for (const file of positionals) {
    const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top));
    const percent = (share: number): string => `${(share * 100).toFixed(1).padStart(5)} %`;
    process.stdout.write(
      `${file}: ${summary.totalMilliseconds.toFixed(0)} ms sampled, ${percent(summary.idleShare)} idle\n\nself time by package\n`,
    );
    for (const entry of summary.byPackage) process.stdout.write(`${percent(entry.share)}  ${entry.name}\n`);
    process.stdout.write('\nself time by function\n');
    for (const entry of summary.byFunction) process.stdout.write(`${percent(entry.share)}  ${entry.name}\n`);
    process.stdout.write('\n');
  }
}
