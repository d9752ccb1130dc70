import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@khata/config';
import { MemoryEventStore } from '@khata/event-store';
import { describe, expect, it } from 'vitest';
import { Identity } from './identity.ts';
import { identitySettingsFromConfig } from './settings.ts';
import { TestClock } from './test-support.ts';

describe('identity settings from configuration', () => {
  it('takes token lifetimes, issuer, audience and lockout thresholds from the configuration', () => {
    const config = loadConfig(
      {
        JWT_ACCESS_EXPIRY: '10m',
        JWT_REFRESH_EXPIRY: '60d',
        JWT_ISSUER: 'khata-test',
        JWT_AUDIENCE: 'portal',
        LOCKOUT_FAILURES_MAX: '3',
        LOCKOUT_WINDOW: '5m',
        LOCKOUT_DURATION: '1h',
      },
      { cwd: '/srv/khata' },
    );
    const settings = identitySettingsFromConfig(config);
    expect(settings).toMatchObject({ issuer: 'khata-test', audience: 'portal', accessTokenSeconds: 600 });
    expect(settings.rules).toMatchObject({
      lockout: { failuresMax: 3, windowSeconds: 300, durationSeconds: 3_600 },
      refreshTokenSeconds: 5_184_000,
      // A session never ends before its refresh token would.
      sessionLifetimeSeconds: 5_184_000,
    });
  });

  it('opens on the configured key directory, creating the signing and MFA keys there', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'khata-config-keys-'));
    try {
      const config = loadConfig({ JWT_KEYS_DIR: join(directory, 'keys') }, { cwd: '/srv/khata' });
      const identity = await Identity.openFromConfig({
        config,
        store: new MemoryEventStore(),
        clock: new TestClock().now,
      });
      const files = await readdir(join(directory, 'keys'));
      expect(files.filter((name) => name.startsWith('ed25519-'))).toHaveLength(1);
      expect(files).toContain('mfa-secret.key');
      expect(identity.settings.accessTokenSeconds).toBe(900);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
