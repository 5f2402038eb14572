import { defineConfig } from 'vitest/config';

/** Measures peak RSS under 1,000 streams: it runs alone, after everything else, so other files' load does not move the figure. */
const MEASURED_ALONE = ['test/resilience/thousand-streams.test.ts'];
/** Load at c=64 with the load generator in the test's own process: next to other files it starves (and slows them). */
const LOAD_ALONE = ['test/resilience/soak.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // chDB binds one data directory per process: each test file runs in its own forked process.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    globalSetup: ['./test/helpers/fill-stripped-sources.ts'],
    reporters: ['default', './test/helpers/plain-summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...MEASURED_ALONE, ...LOAD_ALONE], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'measured-alone', include: MEASURED_ALONE, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'load-alone', include: LOAD_ALONE, sequence: { groupOrder: 2 } } },
    ],
  },
});
