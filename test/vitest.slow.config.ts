import { defineConfig } from 'vitest/config';

// The slow end-to-end tests (`npm run test:slow`): minutes each, kept out of `npm test`.
export default defineConfig({
  test: {
    include: ['slow/**/*.test.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 90 * 60_000,
    hookTimeout: 120_000,
  },
});
