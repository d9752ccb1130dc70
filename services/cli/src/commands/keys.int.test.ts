import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Identity } from '@khata/identity';
import { afterAll, describe, expect, it } from 'vitest';

// The real `khata keys` process against a key directory, then the same directory opened the way the API
// opens it: what an operator does after a suspected leak.
const root = resolve(import.meta.dirname, '../../../..');
const main = join(root, 'services/cli/src/main.ts');
const PROCESS_TIMEOUT_MS = 30_000;
const directory = mkdtempSync(join(tmpdir(), 'khata-keys-'));

afterAll(() => rmSync(directory, { recursive: true, force: true }));

function khata(...args: string[]) {
  const result = spawnSync(process.execPath, [main, 'keys', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: PROCESS_TIMEOUT_MS,
    env: { ...process.env, JWT_KEYS_DIR: directory, KHATA_DATA_DIR: 'memory://' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const kids = (stdout: string, status: string) =>
  stdout
    .split('\n')
    .map((line) => /^(\S+)\s+(signing|verifying|retired)\s+created /.exec(line))
    .filter((match) => match !== null && match[2] === status)
    .map((match) => match?.[1]);

describe('khata keys (process)', () => {
  it('rotates to a new signing key while the previous one keeps verifying', async () => {
    const first = khata('list');
    expect(first.code, first.stderr).toBe(0);
    const [original] = kids(first.stdout, 'signing');
    expect(original).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const rotated = khata('rotate');
    expect(rotated.code, rotated.stderr).toBe(0);
    const [signing] = kids(rotated.stdout, 'signing');
    expect(signing).not.toBe(original);
    expect(kids(rotated.stdout, 'verifying')).toEqual([original]);
    expect(readdirSync(directory).filter((name) => name.startsWith('ed25519-'))).toHaveLength(2);

    // A process opening the directory signs with the new key and still accepts the old one.
    const keys = await Identity.openKeys({ keysDirectory: directory, clock: () => new Date() });
    expect((await keys.signingKey()).kid).toBe(signing);
    expect(await keys.verificationKey(original as string)).not.toBeNull();
  });

  it('refuses an unknown action with exit code 2', () => {
    const result = khata('shred');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/list or rotate/);
  });
});
