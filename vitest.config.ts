import { defineConfig } from 'vitest/config';

// One suite, two engines: every test under test/ runs on embedded PGlite, and again on real PostgreSQL
// when TEST_DATABASE_URL is set (as .ci/run does). The pure core's tests run once.
const postgresUrl = process.env.TEST_DATABASE_URL;

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      // Inline projects do not inherit the root's test options: each sets its own timeouts.
      { test: { name: 'core', include: ['src/**/*.test.ts'], testTimeout: 60_000 } },
      {
        test: {
          name: 'pglite',
          include: ['test/**/*.test.ts'],
          env: { AMEND_TEST_ENGINE: 'pglite' },
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      ...(postgresUrl
        ? [
            {
              test: {
                name: 'postgres',
                include: ['test/**/*.test.ts'],
                env: { AMEND_TEST_ENGINE: 'postgres' },
                globalSetup: ['test/support/postgres-template.ts'],
                testTimeout: 120_000,
                hookTimeout: 60_000,
              },
            },
          ]
        : []),
    ],
  },
});
