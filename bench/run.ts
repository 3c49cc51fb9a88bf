// `npm run bench`: apply throughput and latency through the HTTP API, on PGlite and on PostgreSQL, beside the
// same transaction as raw SQL from a plain client (the engine's limit). Loopback only; bounded in time.
// Writes bench/results/<date>.json and prints a markdown table. Issue #9 extends it (propagation, bulk, memory).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { argon2AnswerHasher } from '../src/adapters/answer-hasher.ts';
import { apiKeyIssuer } from '../src/adapters/api-keys.ts';
import { sha256Hex } from '../src/adapters/audit-signer.ts';
import { calendarsFor } from '../src/adapters/calendars.ts';
import { createDocumentCipher } from '../src/adapters/document-cipher.ts';
import { createFieldCipher } from '../src/adapters/field-cipher.ts';
import { createLinkSigner } from '../src/adapters/link-signer.ts';
import { createMailCatcher } from '../src/adapters/mail/mail-catcher.ts';
import { createOneTimeCodes } from '../src/adapters/one-time-codes.ts';
import { DEFAULT_POLICY_FILE, loadPolicyFile } from '../src/adapters/policy-file.ts';
import { createCatcherSmsSender } from '../src/adapters/sms/catcher-sms-sender.ts';
import { staffCredentialKit } from '../src/adapters/staff-credentials.ts';
import { systemClock, uuidV7Ids } from '../src/adapters/system-clock.ts';
import { createDevelopmentVault } from '../src/adapters/vault/development-vault.ts';
import { enrolIntegration } from '../src/app/enrol-integration.ts';
import { registerCustomers } from '../src/app/register-customers.ts';
import { newCustomer } from '../src/core/customer-fns.ts';
import { buildServer } from '../src/server/http-server.ts';
import { type AmendDatabase, openDatabase } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { createStore, isDatabaseReachable } from '../src/store/store.ts';

const SECONDS_PER_RUN = Number(process.env.BENCH_SECONDS ?? 5);
const CUSTOMERS = 2000;
const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Run {
  engine: string;
  what: string;
  concurrency: number;
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const letters = () => Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('');

/** Runs `work` from `concurrency` loops for the run's duration; answers throughput and latency. */
async function load(concurrency: number, work: () => Promise<void>) {
  const latencies: number[] = [];
  const until = performance.now() + SECONDS_PER_RUN * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await work();
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    perSecond: Math.round(latencies.length / SECONDS_PER_RUN),
    p50Ms: +percentile(latencies, 50).toFixed(2),
    p99Ms: +percentile(latencies, 99).toFixed(2),
  };
}

async function openEngine(
  engine: 'pglite' | 'postgres',
): Promise<{ database: AmendDatabase; url: string | null; drop: () => Promise<void> }> {
  if (engine === 'pglite')
    return { database: await openDatabase({ dataDir: 'memory://' }), url: null, drop: async () => {} };
  const name = `amend_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    database: await openDatabase({ url: url.toString(), poolSize: 40 }),
    url: url.toString(),
    drop: async () => {
      const cleanup = new pg.Client({ connectionString: POSTGRES_URL });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

async function benchEngine(engine: 'pglite' | 'postgres'): Promise<Run[]> {
  const { database, url, drop } = await openEngine(engine);
  await migrate(database);
  const policy = loadPolicyFile(DEFAULT_POLICY_FILE);
  if (!policy.ok) throw new Error(policy.error.message);
  const store = createStore(
    database.db,
    sha256Hex,
    createFieldCipher({
      current: 'bench',
      keys: { bench: randomBytes(32).toString('base64') },
      blindIndexKey: randomBytes(32).toString('base64'),
    }),
  );
  const now = new Date().toISOString();
  const customers = Array.from({ length: CUSTOMERS }, (_, index) => {
    const built = newCustomer(
      {
        legalName: `Bench Customer ${String.fromCharCode(65 + (index % 26))}`,
        email: `bench${index}@example.com`,
      },
      { id: uuidV7Ids.newId(), now, source: 'bench' },
    );
    if (!built.ok) throw new Error('seed');
    return built.value;
  });
  for (let i = 0; i < customers.length; i += 500)
    await store.transaction((tx) =>
      registerCustomers(
        tx,
        customers.slice(i, i + 500),
        { kind: 'system', id: 'bench', role: null },
        'bench',
      ),
    );
  const { apiKey } = await enrolIntegration(
    { store, clock: systemClock, ids: uuidV7Ids, keys: apiKeyIssuer },
    'bench',
  );
  const server = await buildServer({
    store,
    policy: policy.value,
    clock: systemClock,
    ids: uuidV7Ids,
    calendars: calendarsFor(policy.value),
    confirmations: {
      publicBaseUrl: 'http://127.0.0.1',
      linkLifetimeDays: 30,
      support: { phone: '-', email: 'b@example.com' },
      linkSigner: createLinkSigner(randomBytes(32)),
    },
    codes: createOneTimeCodes(randomBytes(32)),
    answers: argon2AnswerHasher,
    documents: createDocumentCipher(randomBytes(32)),
    vault: createDevelopmentVault({ store, clock: systemClock }),
    mailer: createMailCatcher({ store, ids: uuidV7Ids, clock: systemClock }),
    sms: createCatcherSmsSender({ store, ids: uuidV7Ids, clock: systemClock }),
    isDatabaseReachable: () => isDatabaseReachable(database.db),
    credentials: staffCredentialKit,
    secureCookies: 'auto',
    // The benchmark measures throughput, not the abuse limits.
    submissionLimits: { perMinutePerAddress: 10_000_000, perHourPerCustomer: 10_000_000 },
  });
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  const runs: Run[] = [];
  // An auto-approvable change: basic tier, submitted and confirmed by an integration key, applied at once.
  const apply = async () => {
    const customer = customers[Math.floor(Math.random() * customers.length)]!;
    const response = await fetch(`${address}/api/v1/change-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: customer.id,
        changes: [{ field: 'preferredName', value: `Name ${letters()}` }],
        confirmSubmittedValues: true,
      }),
    });
    if (response.status !== 201) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
  };
  for (const concurrency of [1, 8, 32]) {
    const result = await load(concurrency, apply);
    runs.push({
      engine,
      what: 'HTTP apply (change + audit + outbox)',
      concurrency,
      ...result,
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    });
    console.error(
      `${engine} HTTP c=${concurrency}: ${result.perSecond}/s p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms`,
    );
  }
  await server.close();
  if (url) {
    // The engine's limit: the same writes (customer row, one audit entry with its chain head, two outbox rows) as raw SQL.
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    const raw = async () => {
      const customer = customers[Math.floor(Math.random() * customers.length)]!;
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          'UPDATE customer SET preferred_name = $1, version = version + 1, updated_at = now() WHERE id = $2',
          [letters(), customer.id],
        );
        await client.query(
          `INSERT INTO audit_chain_head (chain, seq, hash) VALUES ($1, 0, '') ON CONFLICT (chain) DO UPDATE SET chain = EXCLUDED.chain RETURNING seq`,
          [customer.id],
        );
        await client.query(
          `INSERT INTO audit_entry (chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash)
           VALUES ($1, (SELECT seq + 1000000 + floor(random()*1e9)::int FROM audit_chain_head WHERE chain = $1), now(), '{}', 'bench', NULL, '{}', '', '')`,
          [customer.id],
        );
        await client.query('UPDATE audit_chain_head SET hash = $2 WHERE chain = $1', [customer.id, 'x']);
        await client.query(
          `INSERT INTO outbox (kind, destination, customer_id, sequence, payload, next_attempt_at, created_at) VALUES ('propagation', 'billing', $1, 1, '{}', now(), now()), ('propagation', 'marketing', $1, 1, '{}', now(), now())`,
          [customer.id],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };
    const result = await load(8, raw);
    runs.push({
      engine,
      what: 'raw SQL, same writes (limit)',
      concurrency: 8,
      ...result,
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    });
    console.error(`${engine} raw c=8: ${result.perSecond}/s`);
    await pool.end();
  }
  await database.close();
  await drop();
  return runs;
}

const runs = [
  ...(await benchEngine('pglite')),
  ...(await benchEngine('postgres').catch((error: unknown) => {
    console.error(`PostgreSQL skipped: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  })),
];
const table = [
  `Apply benchmark, ${SECONDS_PER_RUN} s per row, ${new Date().toISOString()} (${process.version}, loopback)`,
  '',
  '| engine | what | concurrency | requests | per second | p50 ms | p99 ms | RSS MB |',
  '|---|---|---|---|---|---|---|---|',
  ...runs.map(
    (r) =>
      `| ${r.engine} | ${r.what} | ${r.concurrency} | ${r.requests} | ${r.perSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.rssMb} |`,
  ),
].join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(
  new URL(`./results/${stamp}.json`, import.meta.url),
  `${JSON.stringify({ seconds: SECONDS_PER_RUN, runs }, null, 2)}\n`,
);
writeFileSync(new URL(`./results/${stamp}.md`, import.meta.url), `${table}\n`);
console.log(table);
