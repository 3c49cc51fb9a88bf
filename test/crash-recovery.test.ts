import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleSystem } from '../src/demo/sample-connected-system.ts';
import { openDatabase } from '../src/store/database.ts';
import {
  amendProcess,
  expectAuditIntact,
  expectDeliveredOnceInOrder,
  expectNothingLostOrDoubled,
  patientClient,
  processEnvironment,
  seedDemo,
  waitForConvergence,
  waitUntilHealthy,
} from './support/amend-processes.ts';
import { openTestDatabase, testEngine } from './support/test-database.ts';

/**
 * `kill -9` at random moments during a load, then restart (issue #9's reliability suite). The server and the
 * worker are real `amend` processes: on PostgreSQL two of them (`serve --no-worker` and `worker`), on PGlite one
 * (`serve` with its worker) on a data folder. CRASH_REQUESTS sets the load (default 5,000).
 */

const REQUESTS = Number(process.env.CRASH_REQUESTS ?? 5_000);
const CUSTOMERS = 50;

const workDir = mkdtempSync(join(tmpdir(), 'amend-crash-'));
let setup: Awaited<ReturnType<typeof processEnvironment>>;
let systems: SampleSystem[];
let closeDatabase: () => Promise<void> = async () => {};
let databaseUrl: string | null = null;

beforeAll(async () => {
  if (testEngine() === 'postgres') {
    const database = await openTestDatabase();
    await database.db.destroy();
    databaseUrl = database.url;
    closeDatabase = database.close;
  }
  setup = await processEnvironment(workDir, databaseUrl);
  systems = setup.systems;
}, 60_000);
afterAll(async () => {
  await Promise.all(systems.map((system) => system.close()));
  await closeDatabase();
  rmSync(workDir, { recursive: true, force: true });
});

describe('kill -9 during a load', () => {
  it(
    `loses no acknowledged request, applies none twice and converges every system (${REQUESTS} requests)`,
    async () => {
      const { env, base } = setup;
      const apiKey = await seedDemo(env, CUSTOMERS);
      const isSplit = databaseUrl !== null;
      const server = amendProcess(env, isSplit ? ['serve', '--no-worker'] : ['serve']);
      const worker = isSplit ? amendProcess(env, ['worker']) : null;
      server.start();
      worker?.start();
      await waitUntilHealthy(base);
      const page = (await (
        await fetch(`${base}/api/v1/customers?limit=${CUSTOMERS}`, {
          headers: { authorization: `Bearer ${apiKey}` },
        })
      ).json()) as { items: { id: string }[] };
      const customerIds = page.items.map((item) => item.id);
      const client = patientClient(base, apiKey, customerIds);

      let isLoading = true;
      const load = client.load(REQUESTS, 16, 'crash').finally(() => {
        isLoading = false;
      });
      // Chaos: kill the server or the worker at random moments, and start it again. The moments are drawn in
      // acknowledged requests, not seconds, so a slow machine (or PGlite's slower start) gets as many kills per
      // request as a fast one instead of spending the test restarting a process that barely ran.
      let kills = 0;
      const chaos = (async () => {
        while (isLoading) {
          const killAt = client.acknowledged.size + 100 + Math.floor(Math.random() * 500);
          while (isLoading && client.acknowledged.size < killAt)
            await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
          if (!isLoading) break;
          const victim = worker && Math.random() < 0.5 ? worker : server;
          await victim.kill9();
          kills += 1;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 500));
          victim.start();
          if (victim === server) await waitUntilHealthy(base);
        }
      })();
      await load;
      await chaos;
      expect(client.acknowledged.size).toBe(REQUESTS);
      expect(kills).toBeGreaterThan(0);

      expect(await waitForConvergence(base, client.headers, systems, customerIds)).toBe(true);
      await server.stop();
      await worker?.stop();

      const database = await openDatabase(
        databaseUrl ? { url: databaseUrl, poolSize: 2 } : { dataDir: env.AMEND_DATA_DIR },
      );
      try {
        await expectNothingLostOrDoubled(database.db, client.acknowledged, REQUESTS);
      } finally {
        await database.close();
      }
      expectDeliveredOnceInOrder(systems, customerIds);
      await expectAuditIntact(env);
      console.log(`crash: ${REQUESTS} requests, ${kills} kills, ${client.retries()} client retries`);
    },
    10 * 60_000,
  );
});
