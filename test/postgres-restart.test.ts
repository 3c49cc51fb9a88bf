import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { testEngine } from './support/test-database.ts';

/**
 * PostgreSQL restarted mid-load (issue #9): the service says it is unhealthy while the database is away, comes
 * back by itself, and loses nothing acknowledged. The test restarts a private PostgreSQL instance (initdb in a
 * temporary folder, its own port), never the shared server the other tests use. Runs in the PostgreSQL project.
 */

const REQUESTS = Number(process.env.RESTART_REQUESTS ?? 1_000);
const CUSTOMERS = 20;
const binaries = () => {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort().at(-1) : undefined;
  return version ? join(root, version, 'bin') : null;
};

const workDir = mkdtempSync(join(tmpdir(), 'amend-pg-restart-'));
const clusterDir = join(workDir, 'cluster');
const port = 30_000 + Math.floor(Math.random() * 20_000);
// PostgreSQL refuses to run as root: as root, run its tools as the postgres user.
const asPostgres = (command: string, args: string[]) => {
  const bin = join(binaries()!, command);
  const [file, argv] =
    process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(file as string, argv as string[], { stdio: 'pipe' }).toString();
};
const pgCtl = (action: 'start' | 'stop' | 'restart') =>
  asPostgres('pg_ctl', [
    '-D',
    clusterDir,
    '-l',
    join(clusterDir, 'server.log'),
    '-w',
    '-m',
    'fast',
    '-o',
    // fsync off only makes the test quicker: the restart is a clean stop, not a crash of the machine.
    `-p ${port} -k ${clusterDir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    action,
  ]);

const isRunnable = testEngine() === 'postgres' && binaries() !== null;

beforeAll(() => {
  if (!isRunnable) return;
  if (process.getuid?.() === 0) {
    chmodSync(workDir, 0o755);
    chownSync(
      workDir,
      Number(execFileSync('id', ['-u', 'postgres']).toString()),
      Number(execFileSync('id', ['-g', 'postgres']).toString()),
    );
  }
  asPostgres('initdb', ['-D', clusterDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  pgCtl('start');
}, 120_000);
afterAll(() => {
  if (isRunnable && existsSync(join(clusterDir, 'postmaster.pid'))) pgCtl('stop');
  rmSync(workDir, { recursive: true, force: true });
});

describe.runIf(isRunnable)('PostgreSQL restarted mid-load', () => {
  it(
    `reports unhealthy, recovers by itself and loses nothing acknowledged (${REQUESTS} requests)`,
    async () => {
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const setup = await processEnvironment(join(workDir, 'amend'), url);
      const { env, base, systems } = setup;
      try {
        const apiKey = await seedDemo(env, CUSTOMERS);
        const server = amendProcess(env, ['serve']);
        server.start();
        await waitUntilHealthy(base);
        const page = (await (
          await fetch(`${base}/api/v1/customers?limit=${CUSTOMERS}`, {
            headers: { authorization: `Bearer ${apiKey}` },
          })
        ).json()) as { items: { id: string }[] };
        const customerIds = page.items.map((item) => item.id);
        const client = patientClient(base, apiKey, customerIds);

        const t0 = Date.now();
        const mark = (what: string) => console.log(`restart: ${what} at ${Date.now() - t0} ms`);
        const load = client.load(REQUESTS, 8, 'restart');
        // A third of the way in, stop PostgreSQL, watch the health check, then start it again.
        while (client.acknowledged.size < REQUESTS / 3)
          await new Promise((resolve) => setTimeout(resolve, 50));
        mark('stopping PostgreSQL');
        pgCtl('stop');
        const duringOutage: number[] = [];
        for (let i = 0; i < 10; i++) {
          duringOutage.push((await fetch(`${base}/healthz`)).status);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        const acknowledgedDuringOutage = client.acknowledged.size;
        pgCtl('start');
        mark('started PostgreSQL');
        await load;
        mark('load done');
        // Unhealthy while the database was away; the same process (never restarted) healthy again after.
        expect(duringOutage).toContain(503);
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        expect(client.acknowledged.size).toBe(REQUESTS);
        expect(acknowledgedDuringOutage).toBeLessThan(REQUESTS);

        expect(await waitForConvergence(base, client.headers, systems, customerIds)).toBe(true);
        mark('converged');
        await server.stop();
        const database = await openDatabase({ url, poolSize: 2 });
        try {
          await expectNothingLostOrDoubled(database.db, client.acknowledged, REQUESTS);
        } finally {
          await database.close();
        }
        expectDeliveredOnceInOrder(systems, customerIds);
        await expectAuditIntact(env);
        console.log(`restart: ${REQUESTS} requests, ${client.retries()} client retries`);
      } finally {
        await Promise.all(systems.map((system) => system.close()));
        await new pg.Pool({ connectionString: url }).end();
      }
    },
    10 * 60_000,
  );
});
