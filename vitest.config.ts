import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real servers and write 100k-row batches: generous, but no test asserts speed.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Builds dist/ when stale: CLI and multi-process tests spawn the built CLI.
    globalSetup: ['test/support/global-build.ts'],
    // Fails a test whose Slack payloads break a Block Kit limit (the fake Web API records them).
    setupFiles: ['test/support/block-kit-guard.ts'],
  },
});
