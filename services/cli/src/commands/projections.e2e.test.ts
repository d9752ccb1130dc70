import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readModels } from '@khata/runtime';
import { afterAll, describe, expect, it } from 'vitest';

// The real `khata projections` process on an embedded database with a demo account in it: what an operator runs
// after changing a read model.
const root = resolve(import.meta.dirname, '../../../..');
const main = join(root, 'services/cli/src/main.ts');
const PROCESS_TIMEOUT_MS = 120_000;
const directory = mkdtempSync(join(tmpdir(), 'khata-projections-'));

afterAll(() => rmSync(directory, { recursive: true, force: true }));

function khata(...args: string[]) {
  const result = spawnSync(process.execPath, [main, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: PROCESS_TIMEOUT_MS,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      KHATA_DATA_DIR: join(directory, 'data'),
      JWT_KEYS_DIR: join(directory, 'keys'),
      LOG_LEVEL: 'warn',
    },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Status {
  readonly shards: readonly {
    readonly projection: string;
    readonly generation: number;
    readonly eventsApplied: number;
  }[];
}

const generations = (status: Status) =>
  Object.fromEntries(status.shards.map((shard) => [shard.projection, shard.generation]));

describe('khata projections (process)', { timeout: 4 * PROCESS_TIMEOUT_MS }, () => {
  it('rebuilds every read model in one pass, or one by name, and refuses both at once', () => {
    const seeded = khata('seed', '--demo');
    expect(seeded.code, seeded.stderr).toBe(0);
    // Every read model's shards start at generation 1, then each is rebuilt into generation 2.
    const all = khata('projections', 'rebuild', '--all');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(
      new RegExp(`rebuilt ${readModels.length} read models from [1-9][0-9]* events in one pass`),
    );
    for (const { name } of readModels) expect(all.stdout).toMatch(new RegExp(`^ {2}${name} +rm_${name}_g2$`, 'm'));
    const status = khata('projections', 'status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const after = generations(JSON.parse(status.stdout) as Status);
    for (const { name } of readModels) expect(after[name], name).toBe(2);
    // The process managers are not read models: --all leaves them alone.
    expect(Object.entries(after).filter(([name]) => !readModels.some((model) => model.name === name))).not.toEqual([]);
    for (const [name, generation] of Object.entries(after)) {
      if (!readModels.some((model) => model.name === name)) expect(generation, name).toBe(1);
    }

    const one = khata('projections', 'rebuild', 'calls');
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^rebuilt calls: [1-9][0-9]* events; queries now read rm_calls_g3$/m);

    const both = khata('projections', 'rebuild', 'calls', '--all');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/a read model name or --all, not both/);
  });
});
