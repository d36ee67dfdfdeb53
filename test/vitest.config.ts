import { defineConfig } from 'vitest/config';

// End-to-end suites boot real QEMU guests: run files one at a time so two
// TCG guests never compete for this machine's two cores, with generous timeouts.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // slow/: npm run test:slow (vitest.slow.config.ts).
    exclude: ['node_modules/**', 'out-tsc/**', 'slow/**'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
