import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.ts';

describe('secret box', () => {
  it('seals a secret so that only the same key and context open it', () => {
    const box = SecretBox.generate();
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'user-a');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(sealed, 'user-a')).toBe('JBSWY3DPEHPK3PXP');
    expect(box.seal('JBSWY3DPEHPK3PXP', 'user-a')).not.toBe(sealed);
    expect(() => box.open(sealed, 'user-b')).toThrow();
    expect(() => SecretBox.generate().open(sealed, 'user-a')).toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'), 'user-a')).toThrow();
  });

  it('keeps its key in the key directory, created once and private', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'khata-box-'));
    try {
      const [first, second] = await Promise.all([SecretBox.open(directory), SecretBox.open(directory)]);
      const sealed = first.seal('secret', 'ctx');
      expect(second.open(sealed, 'ctx')).toBe('secret');
      expect((await SecretBox.open(directory)).open(sealed, 'ctx')).toBe('secret');
      expect((await stat(join(directory, 'mfa-secret.key'))).mode & 0o777).toBe(0o600);
      expect(Buffer.from((await readFile(join(directory, 'mfa-secret.key'), 'utf8')).trim(), 'base64')).toHaveLength(
        32,
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
