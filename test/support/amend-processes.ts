import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Kysely, sql } from 'kysely';
import { expect } from 'vitest';
import {
  type SampleSystem,
  startSampleSystem,
  webhookSystemsFile,
} from '../../src/demo/sample-connected-system.ts';
import type { Database } from '../../src/store/schema-types.ts';

/** Helpers for tests that run Amend as real processes (crash and restart tests), on loopback only. */

export const AMEND = new URL('../../bin/amend.js', import.meta.url).pathname;
export const runFile = promisify(execFile);

/** Billing, shipping and marketing as webhook receivers, and the environment of an `amend` talking to them. */
export async function processEnvironment(workDir: string, databaseUrl: string | null) {
  mkdirSync(workDir, { recursive: true });
  const systems: SampleSystem[] = [];
  for (const name of ['billing', 'shipping', 'marketing'])
    systems.push(await startSampleSystem({ name, secret: `${name}-secret` }));
  const systemsFile = join(workDir, 'connected-systems.json');
  writeFileSync(
    systemsFile,
    webhookSystemsFile(systems, (name) => `${name}-secret`, 2_000),
  );
  const env: NodeJS.ProcessEnv = {
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
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
  return { env, systems, base: `http://127.0.0.1:${env.PORT}` };
}

/** One `amend` process the test can kill and start again. */
export function amendProcess(env: NodeJS.ProcessEnv, args: string[]) {
  let child: ChildProcess | null = null;
  return {
    start() {
      child = spawn(process.execPath, [AMEND, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    },
    kill9() {
      const dead = child;
      child = null;
      dead?.kill('SIGKILL');
      return dead && dead.exitCode === null
        ? new Promise((resolve) => dead.once('exit', resolve))
        : Promise.resolve();
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

export async function waitUntilHealthy(base: string, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server was not healthy within ${seconds} s`);
}

/** Seeds the demo data set and answers the integration's API key and the customers' ids. */
export async function seedDemo(env: NodeJS.ProcessEnv, customers: number) {
  const seeded = await runFile(process.execPath, [AMEND, 'demo', '--customers', String(customers)], { env });
  return /integration\s+Demo CRM integration\s+(amk_\S+)/.exec(seeded.stdout)![1]!;
}

export const distinctName = (prefix: string, index: number) =>
  `${prefix} ${[...index.toString(26)].map((digit) => String.fromCharCode(97 + Number.parseInt(digit, 26))).join('')}`;

/**
 * A well-behaved integration: each request carries an Idempotency-Key and is sent again, unchanged, until it is
 * acknowledged (connection refused, reset, or a 5xx mean "try again"). Answers the acknowledged ids by key.
 */
export function patientClient(base: string, apiKey: string, customerIds: readonly string[]) {
  const acknowledged = new Map<string, string>();
  let retries = 0;
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const submit = async (index: number, prefix: string) => {
    const key = `${prefix}-${index}`;
    for (;;) {
      let refusal: string | null = null;
      try {
        const response = await fetch(`${base}/api/v1/change-requests`, {
          method: 'POST',
          headers: { ...headers, 'idempotency-key': key },
          body: JSON.stringify({
            customerId: customerIds[index % customerIds.length],
            changes: [{ field: 'preferredName', value: distinctName(prefix, index) }],
            confirmSubmittedValues: true,
          }),
        });
        const body = (await response.json()) as { id: string };
        if (response.status === 201) {
          acknowledged.set(key, body.id);
          return;
        }
        if (response.status < 500) refusal = JSON.stringify(body);
      } catch {
        // the server is down or went down mid-request: send the same request again
      }
      if (refusal) throw new Error(`refused: ${refusal}`);
      retries += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  /** Runs `count` requests from `concurrency` loops. */
  const load = async (count: number, concurrency: number, prefix: string) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await submit(next++, prefix);
      }),
    );
  };
  return { acknowledged, load, headers, retries: () => retries };
}

/**
 * What must hold after any crash: every acknowledged request stored and applied, exactly one `applied` entry
 * per request, every customer's version moved once per applied change, every propagation delivered.
 */
export async function expectNothingLostOrDoubled(
  db: Kysely<Database>,
  acknowledged: ReadonlyMap<string, string>,
  expectedRequests: number,
): Promise<void> {
  const requests = await sql<{ id: string; applied: boolean }>`
    SELECT id, (body->>'appliedAt') IS NOT NULL AS applied FROM change_request`.execute(db);
  expect(requests.rows).toHaveLength(expectedRequests);
  const byId = new Map(requests.rows.map((row) => [row.id, row.applied]));
  for (const id of acknowledged.values()) expect(byId.get(id), id).toBe(true);
  const appliedTwice = await sql<{ change_request_id: string }>`
    SELECT change_request_id FROM audit_entry WHERE action = 'change_request.applied'
    GROUP BY change_request_id HAVING count(*) <> 1`.execute(db);
  expect(appliedTwice.rows).toEqual([]);
  const versions = await sql<{ id: string; version: number; applied: number }>`
    SELECT c.id, c.version, (SELECT count(*)::int FROM audit_entry a
      WHERE a.chain = c.id::text AND a.action = 'change_request.applied') AS applied FROM customer c`.execute(
    db,
  );
  for (const row of versions.rows) expect(row.version, row.id).toBe(1 + row.applied);
  const undelivered = await sql<{ count: number }>`
    SELECT count(*)::int AS count FROM outbox WHERE kind = 'propagation' AND status <> 'delivered'`.execute(
    db,
  );
  expect(undelivered.rows[0]!.count).toBe(0);
}

/** Each system applied each change once, and in order per customer. */
export function expectDeliveredOnceInOrder(
  systems: readonly SampleSystem[],
  customerIds: readonly string[],
): void {
  for (const system of systems) {
    const applied = system.deliveries.filter((delivery) => !delivery.isDuplicate);
    expect(new Set(applied.map((d) => d.changeId)).size, system.name).toBe(applied.length);
    for (const customerId of customerIds) {
      const sequences = applied.filter((d) => d.customerId === customerId).map((d) => d.sequence);
      expect(sequences, `${system.name} order`).toEqual([...sequences].sort((a, b) => a - b));
    }
  }
}

/** Waits until billing and marketing hold each customer's current preferred name. */
export async function waitForConvergence(
  base: string,
  headers: Record<string, string>,
  systems: readonly SampleSystem[],
  customerIds: readonly string[],
): Promise<boolean> {
  for (let attempt = 0; attempt < 120; attempt++) {
    let isConverged = true;
    for (const customerId of customerIds) {
      const record = (await (await fetch(`${base}/api/v1/customers/${customerId}`, { headers })).json()) as {
        preferredName: string | null;
      };
      if (
        systems.some(
          (s) =>
            s.name !== 'shipping' && s.records.get(customerId)?.fields.preferredName !== record.preferredName,
        )
      ) {
        isConverged = false;
        break;
      }
    }
    if (isConverged) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

export async function expectAuditIntact(env: NodeJS.ProcessEnv): Promise<void> {
  const verified = await runFile(process.execPath, [AMEND, 'audit', 'verify'], { env }).catch(
    (error: { stdout: string }) => error,
  );
  expect(verified.stdout).toMatch(/Audit log intact/);
}
