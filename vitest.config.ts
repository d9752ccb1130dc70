import { defineConfig } from 'vitest/config';

// Test tiers come from file names: *.unit.test.ts (pure, no services), *.int.test.ts (a real database,
// Redis or server), *.e2e.test.ts (whole processes). `./khata test` runs all three.
const exclude = ['**/node_modules/**', '**/.khata/**', '**/.tsbuild/**'];

export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['**/*.unit.test.ts'], exclude } },
      { extends: true, test: { name: 'int', include: ['**/*.int.test.ts'], exclude } },
      { extends: true, test: { name: 'e2e', include: ['**/*.e2e.test.ts'], exclude } },
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
