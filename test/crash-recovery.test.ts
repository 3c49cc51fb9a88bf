import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SampleSystem, startSampleSystem } from '../src/demo/sample-connected-system.ts';
import { openDatabase } from '../src/store/database.ts';
import { openTestDatabase, testEngine } from './support/test-database.ts';

/**
 * `kill -9` at random moments during a load, then restart (issue #9's reliability suite). The server and the
 * worker are real `amend` processes: on PostgreSQL two of them (`serve --no-worker` and `worker`), on PGlite one
 * (`serve` with its worker) on a data folder. Every request carries an Idempotency-Key and the client retries it
 * until it is acknowledged, as a well-behaved integration does. CRASH_REQUESTS sets the load (default 5,000).
 */

const REQUESTS = Number(process.env.CRASH_REQUESTS ?? 5_000);
const CUSTOMERS = 50;
const AMEND = new URL('../bin/amend.js', import.meta.url).pathname;
const run = promisify(execFile);

const workDir = mkdtempSync(join(tmpdir(), 'amend-crash-'));
const systems: SampleSystem[] = [];
let env: NodeJS.ProcessEnv;
let closeDatabase: () => Promise<void> = async () => {};
let databaseUrl: string | null = null;

beforeAll(async () => {
  for (const name of ['billing', 'shipping', 'marketing'])
    systems.push(await startSampleSystem({ name, secret: `${name}-secret` }));
  const systemsFile = join(workDir, 'connected-systems.json');
  writeFileSync(
    systemsFile,
    JSON.stringify({
      systems: systems.map((s) => ({
        id: s.name,
        kind: 'webhook',
        url: `${s.url()}/hooks/amend`,
        secret: `${s.name}-secret`,
        timeoutMs: 2_000,
      })),
    }),
  );
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(21_000 + Math.floor(Math.random() * 20_000)),
    AMEND_DATA_DIR: join(workDir, 'data'),
    AMEND_CONNECTED_SYSTEMS_FILE: systemsFile,
    AMEND_LOG_LEVEL: 'silent',
    AMEND_WORKER_LEASE_MS: '4000',
    AMEND_AUDIT_CHECKPOINT_INTERVAL_MS: '1000',
    AMEND_SUBMISSIONS_PER_MINUTE_PER_ADDRESS: '100000000',
    AMEND_SUBMISSIONS_PER_HOUR_PER_CUSTOMER: '100000000',
  };
  if (testEngine() === 'postgres') {
    const database = await openTestDatabase();
    await database.db.destroy();
    databaseUrl = database.url;
    env.DATABASE_URL = database.url!;
    closeDatabase = database.close;
  }
}, 60_000);
afterAll(async () => {
  await Promise.all(systems.map((system) => system.close()));
  await closeDatabase();
  rmSync(workDir, { recursive: true, force: true });
});

const base = () => `http://127.0.0.1:${env.PORT}`;

/** One `amend` process the test can kill and start again. */
function amendProcess(args: string[]) {
  let child: ChildProcess | null = null;
  return {
    start() {
      child = spawn(process.execPath, [AMEND, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    },
    kill9() {
      child?.kill('SIGKILL');
      const dead = child;
      child = null;
      return dead ? new Promise((resolve) => dead.once('exit', resolve)) : Promise.resolve();
    },
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null) return;
      running.kill('SIGTERM');
      await new Promise((resolve) => running.once('exit', resolve));
    },
  };
}

async function waitUntilHealthy(): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base()}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the server did not come back within 60 s');
}

const nameFor = (index: number) =>
  `Crash ${[...index.toString(26)].map((digit) => String.fromCharCode(97 + Number.parseInt(digit, 26))).join('')}`;

describe('kill -9 during a load', () => {
  it(
    `loses no acknowledged request, applies none twice and converges every system (${REQUESTS} requests)`,
    async () => {
      const seeded = await run(process.execPath, [AMEND, 'demo', '--customers', String(CUSTOMERS)], { env });
      const apiKey = /integration\s+Demo CRM integration\s+(amk_\S+)/.exec(seeded.stdout)![1]!;
      const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
      const customerIds: string[] = [];
      const isSplit = databaseUrl !== null;
      const server = amendProcess(isSplit ? ['serve', '--no-worker'] : ['serve']);
      const worker = isSplit ? amendProcess(['worker']) : null;
      server.start();
      worker?.start();
      await waitUntilHealthy();
      const page = (await (
        await fetch(`${base()}/api/v1/customers?limit=${CUSTOMERS}`, { headers })
      ).json()) as {
        items: { id: string }[];
      };
      customerIds.push(...page.items.map((item: { id: string }) => item.id));

      // The client: every request retried with its Idempotency-Key until acknowledged.
      const acknowledged = new Map<string, string>();
      let retries = 0;
      let next = 0;
      const submitUntilAcknowledged = async (index: number) => {
        const key = `crash-${index}`;
        for (;;) {
          try {
            const response = await fetch(`${base()}/api/v1/change-requests`, {
              method: 'POST',
              headers: { ...headers, 'idempotency-key': key },
              body: JSON.stringify({
                customerId: customerIds[index % CUSTOMERS],
                changes: [{ field: 'preferredName', value: nameFor(index) }],
                confirmSubmittedValues: true,
              }),
            });
            const body = (await response.json()) as { id: string };
            if (response.status === 201) return acknowledged.set(key, body.id);
            if (response.status < 500) throw new Error(`refused: ${JSON.stringify(body)}`);
          } catch (error) {
            if (String(error).includes('refused:')) throw error;
          }
          retries += 1;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      let isLoading = true;
      const load = Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < REQUESTS) await submitUntilAcknowledged(next++);
        }),
      ).finally(() => {
        isLoading = false;
      });
      // Chaos: kill the server or the worker at random moments, and start it again.
      let kills = 0;
      const chaos = (async () => {
        while (isLoading) {
          await new Promise((resolve) => setTimeout(resolve, 1_500 + Math.random() * 2_500));
          if (!isLoading) break;
          const victim = worker && Math.random() < 0.5 ? worker : server;
          await victim.kill9();
          kills += 1;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 500));
          victim.start();
          if (victim === server) await waitUntilHealthy();
        }
      })();
      await load;
      await chaos;
      expect(acknowledged.size).toBe(REQUESTS);
      expect(kills).toBeGreaterThan(0);

      // Every system converges on the record's current values.
      const converged = async () => {
        for (const customerId of customerIds) {
          const record = (await (
            await fetch(`${base()}/api/v1/customers/${customerId}`, { headers })
          ).json()) as {
            preferredName: string | null;
          };
          for (const system of systems.filter((s) => s.name !== 'shipping'))
            if (system.records.get(customerId)?.fields.preferredName !== record.preferredName) return false;
        }
        return true;
      };
      let isConverged = false;
      for (let i = 0; i < 120 && !isConverged; i++) {
        isConverged = await converged();
        if (!isConverged) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(isConverged).toBe(true);
      await server.stop();
      await worker?.stop();

      // The database: every acknowledged request is there, applied once; every delivery made; nothing duplicated.
      const database = await openDatabase(
        databaseUrl ? { url: databaseUrl, poolSize: 2 } : { dataDir: env.AMEND_DATA_DIR },
      );
      try {
        const requests = await sql<{ id: string; applied: boolean }>`
          SELECT id, (body->>'appliedAt') IS NOT NULL AS applied FROM change_request`.execute(database.db);
        expect(requests.rows).toHaveLength(REQUESTS);
        const byId = new Map(requests.rows.map((row) => [row.id, row.applied]));
        for (const id of acknowledged.values()) expect(byId.get(id), id).toBe(true);
        const appliedTwice = await sql<{ change_request_id: string }>`
          SELECT change_request_id FROM audit_entry WHERE action = 'change_request.applied'
          GROUP BY change_request_id HAVING count(*) <> 1`.execute(database.db);
        expect(appliedTwice.rows).toEqual([]);
        const undelivered = await sql<{ count: number }>`
          SELECT count(*)::int AS count FROM outbox WHERE kind = 'propagation' AND status <> 'delivered'`.execute(
          database.db,
        );
        expect(undelivered.rows[0]!.count).toBe(0);
        const versions = await sql<{ id: string; version: number; applied: number }>`
          SELECT c.id, c.version, (SELECT count(*)::int FROM audit_entry a
            WHERE a.chain = c.id::text AND a.action = 'change_request.applied') AS applied FROM customer c`.execute(
          database.db,
        );
        for (const row of versions.rows) expect(row.version, row.id).toBe(1 + row.applied);
      } finally {
        await database.close();
      }
      for (const system of systems) {
        const applied = system.deliveries.filter((delivery) => !delivery.isDuplicate);
        expect(new Set(applied.map((d) => d.changeId)).size, system.name).toBe(applied.length);
        for (const customerId of customerIds) {
          const sequences = applied.filter((d) => d.customerId === customerId).map((d) => d.sequence);
          expect(sequences, `${system.name} order`).toEqual([...sequences].sort((a, b) => a - b));
        }
      }
      const verified = await run(process.execPath, [AMEND, 'audit', 'verify'], { env }).catch(
        (error: { stdout: string; stderr: string }) => error,
      );
      expect(verified.stdout).toMatch(/intact/i);
      console.log(`crash: ${REQUESTS} requests, ${kills} kills, ${retries} client retries`);
    },
    10 * 60_000,
  );
});
