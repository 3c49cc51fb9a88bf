// `npm run bench`: apply throughput and latency through the HTTP API, on PGlite and on PostgreSQL, beside the
// same transaction as raw SQL from a plain client and `pgbench -N` (the engine's limits). The server is a real
// `amend serve` process, as deployed, so its memory is measured alone and the load generator does not share its
// CPU. Loopback only; bounded in time. Writes bench/results/<date>.json and .md and prints a markdown table.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  type SampleSystem,
  startSampleSystem,
  webhookSystemsFile,
} from '../src/demo/sample-connected-system.ts';
import { ACTIVITY_ACTIONS, ACTIVITY_TUPLE } from '../src/store/anomaly-repo.ts';
import { type BulkRun, benchBulk, bulkTable, PROFILING } from './bulk.ts';
import { benchPropagation, type PropagationRun, perItem, propagationTable } from './propagation.ts';

const SECONDS_PER_RUN = Number(process.env.BENCH_SECONDS ?? 5);
// Rounds of the apply-against-limit measurement at 8 clients, each side half a run's duration a round.
const RATIO_ROUNDS = 4;
const CUSTOMERS = 2000;
const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const AMEND = new URL('../bin/amend.js', import.meta.url).pathname;
const run = promisify(execFile);

interface Run {
  engine: string;
  what: string;
  concurrency: number;
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The server process's resident memory after the run, and its peak. */
  serverRssMb: number | null;
  serverPeakRssMb: number | null;
  /** The server process's CPU time (user + system) per request over the run, in ms. */
  serverCpuMsPerRequest: number | null;
}

const bulkRuns: BulkRun[] = [];
/** The HTTP apply's rate as a percentage of the raw transaction's, round by round. */
const ratioRounds: number[] = [];
const propagationRuns: PropagationRun[] = [];

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const letters = () => Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('');

/**
 * The load generator's POST. It shares the machine with the server and the database, so what it costs is taken
 * from them: node:http on kept-alive sockets cost 0.44 ms of CPU per request where fetch cost 1.12, taking turns
 * against one server (the raw-SQL baseline's client spends ~0.7 ms on its whole transaction).
 */
const agent = new http.Agent({ keepAlive: true });
function post(url: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** What `concurrency` loops running `work` for `seconds` measured: each call's latency. */
interface Sample {
  readonly latencies: number[];
  readonly seconds: number;
}

async function sample(concurrency: number, work: () => Promise<void>, seconds: number): Promise<Sample> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await work();
        latencies.push(performance.now() - started);
      }
    }),
  );
  return { latencies, seconds };
}

/** Throughput and latency over samples taken apart (the rounds of an interleaved measurement), as one. */
function summarise(samples: readonly Sample[]) {
  const latencies = samples.flatMap((each) => each.latencies).sort((a, b) => a - b);
  const seconds = samples.reduce((sum, each) => sum + each.seconds, 0);
  return {
    requests: latencies.length,
    perSecond: Math.round(latencies.length / seconds),
    p50Ms: +percentile(latencies, 50).toFixed(2),
    p99Ms: +percentile(latencies, 99).toFixed(2),
  };
}

/** Runs `work` from `concurrency` loops for the run's duration; answers throughput and latency. */
const load = async (concurrency: number, work: () => Promise<void>) =>
  summarise([await sample(concurrency, work, SECONDS_PER_RUN)]);

/**
 * CPU time (user + system) a process has used, in ms, from /proc: per request or per change it is steadier
 * than a rate on this shared machine, and says where one thread's budget goes.
 */
function cpuMsOf(pid: number): number | null {
  try {
    // Fields 14 and 15 (utime, stime) follow the parenthesised command name, which may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100;

/** VmRSS and VmHWM (peak) of a process, in MB, from /proc. */
function memoryOf(pid: number): { rss: number | null; peak: number | null } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return { rss: null, peak: null };
  }
}

/** A new database, empty or a copy of `template` (which must have no connections). */
async function createDatabase(
  template?: string,
): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `amend_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const cleanup = new pg.Client({ connectionString: POSTGRES_URL });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

async function waitForHealth(base: string, server: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error(`amend serve exited with ${server.exitCode}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('amend serve did not become healthy in 30 s');
}

async function benchEngine(engine: 'pglite' | 'postgres', systems: SampleSystem[]): Promise<Run[]> {
  const work = mkdtempSync(join(tmpdir(), 'amend-bench-'));
  const database = engine === 'postgres' ? await createDatabase() : null;
  const systemsFile = join(work, 'connected-systems.json');
  writeFileSync(
    systemsFile,
    webhookSystemsFile(systems, () => 'bench'),
  );
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    AMEND_DATA_DIR: join(work, 'data'),
    ...(database ? { DATABASE_URL: database.url } : {}),
    AMEND_CONNECTED_SYSTEMS_FILE: systemsFile,
    AMEND_LOG_LEVEL: 'silent',
    // The benchmark measures throughput, not the abuse limits.
    AMEND_SUBMISSIONS_PER_MINUTE_PER_ADDRESS: '100000000',
    AMEND_SUBMISSIONS_PER_HOUR_PER_CUSTOMER: '100000000',
  };
  const seeded = await run(process.execPath, [AMEND, 'demo', '--customers', String(CUSTOMERS)], {
    env,
    maxBuffer: 1 << 24,
  });
  const apiKey = /integration\s+Demo CRM integration\s+(amk_\S+)/.exec(seeded.stdout)?.[1];
  if (!apiKey) throw new Error(`no integration key in the demo output:\n${seeded.stdout}`);

  // Servers and workers run as the README's Command line says to run them, with two V8 helper threads.
  const startAmend = (...args: string[]) =>
    spawn(process.execPath, ['--v8-pool-size=2', ...PROFILING, AMEND, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  const stopAmend = async (child: ChildProcess) => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
  let server = startAmend('serve', '--no-worker');
  const base = `http://127.0.0.1:${port}`;
  const runs: Run[] = [];
  // The engine's limits, listed after the HTTP rows.
  const limits: Run[] = [];
  try {
    await waitForHealth(base, server);
    const customerIds: string[] = [];
    for (let after: string | null = null; customerIds.length < CUSTOMERS; ) {
      const page = (await (
        await fetch(`${base}/api/v1/customers?limit=200${after ? `&after=${after}` : ''}`, {
          headers: { authorization: `Bearer ${apiKey}` },
        })
      ).json()) as { items: { id: string }[]; nextCursor: string | null };
      customerIds.push(...page.items.map((item) => item.id));
      if (!page.nextCursor) break;
      after = page.nextCursor;
    }
    // An auto-approvable change: basic tier, submitted and confirmed by an integration key, applied at once.
    const apply = async () => {
      const customerId = customerIds[Math.floor(Math.random() * customerIds.length)]!;
      const response = await post(
        `${base}/api/v1/change-requests`,
        { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        JSON.stringify({
          customerId,
          changes: [{ field: 'preferredName', value: `Name ${letters()}` }],
          confirmSubmittedValues: true,
        }),
      );
      if (response.status !== 201) throw new Error(`HTTP ${response.status}: ${response.body}`);
    };
    await load(4, apply); // warm-up, not reported
    // The limit runs on a copy of the database as the warm-up left it, as the baseline's writes break the audit
    // chains the bulk stage verifies (taken after the bulk stage, on a million more customers, it was half as
    // fast, which flattered the apply's ratio). A copy needs its template without connections: the server stops
    // for it, and warms up again.
    const twin = database
      ? await (async () => {
          await stopAmend(server);
          const copy = await createDatabase(database.name);
          server = startAmend('serve', '--no-worker');
          await waitForHealth(base, server);
          await sample(4, apply, 2);
          return copy;
        })()
      : null;
    try {
      const limit = twin ? await rawTransaction(twin.url) : null;
      // The server's CPU since the previous row (it is idle between rows and while the raw rounds run), so per
      // request it is the HTTP apply's own.
      let cpuAtStart = cpuMsOf(server.pid!);
      const httpRun = (concurrency: number, result: ReturnType<typeof summarise>) => {
        const memory = memoryOf(server.pid!);
        const cpu = cpuMsOf(server.pid!);
        const serverCpuMsPerRequest = perItem(cpuAtStart, cpu, result.requests);
        cpuAtStart = cpu;
        runs.push({
          engine,
          what: 'HTTP apply (change + audit + outbox)',
          concurrency,
          ...result,
          serverRssMb: memory.rss,
          serverPeakRssMb: memory.peak,
          serverCpuMsPerRequest,
        });
        console.error(
          `${engine} HTTP c=${concurrency}: ${result.perSecond}/s p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms, server RSS ${memory.rss} MB (peak ${memory.peak}), server CPU ${serverCpuMsPerRequest} ms a request`,
        );
      };
      httpRun(1, await load(1, apply));
      if (limit) {
        // The ratio's two sides in alternating rounds, each side first in turn, so a slow minute on this shared
        // machine slows both: measured one after the other, the ratio moved by a fifth between runs.
        const http: Sample[] = [];
        const raw: Sample[] = [];
        const seconds = SECONDS_PER_RUN / 2;
        for (let round = 0; round < RATIO_ROUNDS; round++) {
          const pair = [
            async () => http.push(await sample(8, apply, seconds)),
            async () => raw.push(await sample(8, limit.transaction, seconds)),
          ];
          for (const side of round % 2 === 0 ? pair : pair.reverse()) await side();
        }
        ratioRounds.push(
          ...http.map((each, round) =>
            Math.round((100 * each.latencies.length) / raw[round]!.latencies.length),
          ),
        );
        httpRun(8, summarise(http));
        const result = summarise(raw);
        console.error(`postgres raw c=8: ${result.perSecond}/s p99 ${result.p99Ms} ms`);
        limits.push({
          engine: 'postgres',
          what: 'raw SQL, the same transaction (limit)',
          concurrency: 8,
          ...result,
          serverRssMb: null,
          serverPeakRssMb: null,
          serverCpuMsPerRequest: null,
        });
      } else httpRun(8, await load(8, apply));
      httpRun(32, await load(32, apply));
      await limit?.close();
      if (twin) {
        const pgbench = await pgbenchInsertOnly(twin.url);
        if (pgbench) limits.push(pgbench);
      }
    } finally {
      await twin?.drop();
    }
    const peakPerSecond = Math.max(...runs.map((r) => r.perSecond));
    // Propagation: the backlog the apply runs left, then half the peak rate. On PostgreSQL the worker is a
    // process of its own beside the server (the scale-out deployment); PGlite admits one process, so there
    // the server is restarted with its worker in-process (the embedded deployment).
    if (database) {
      const worker = startAmend('worker');
      try {
        propagationRuns.push(
          await benchPropagation({
            engine,
            deployment: 'server + separate worker process',
            base,
            apply,
            peakPerSecond,
            database: { url: database.url },
            delivererMemory: () => memoryOf(worker.pid!),
            delivererCpuMs: () => cpuMsOf(worker.pid!),
          }),
        );
      } finally {
        await stopAmend(worker);
      }
    } else {
      await stopAmend(server);
      server = startAmend('serve');
      await waitForHealth(base, server);
      propagationRuns.push(
        await benchPropagation({
          engine,
          deployment: 'server with in-process worker',
          base,
          apply,
          peakPerSecond,
          database: { dataDir: env.AMEND_DATA_DIR },
          beforeReading: () => stopAmend(server),
          delivererMemory: () => memoryOf(server.pid!),
          delivererCpuMs: () => cpuMsOf(server.pid!),
        }),
      );
    }
    const last = propagationRuns.at(-1)!;
    console.error(
      `${engine} propagation at ${last.targetPerSecond}/s: max depth ${last.maxDepth}, lag p50 ${last.lagP50Ms} ms p99 ${last.lagP99Ms} ms, deliverer RSS ${last.delivererRssMb} MB (peak ${last.delivererPeakRssMb})`,
    );
    if (database && process.env.BENCH_BULK !== '0')
      bulkRuns.push(
        ...(await benchBulk(database.url, env, async (count) => {
          for (let i = 0; i < count; i++) await apply();
        })),
      );
  } finally {
    await stopAmend(server);
    // Kept, the database is there to study a figure's queries afterwards (drop it by hand).
    if (database && process.env.BENCH_KEEP_DATABASE === '1') console.error(`kept database ${database.url}`);
    else await database?.drop();
  }

  rmSync(work, { recursive: true, force: true });
  return [...runs, ...limits];
}

/** The customers' ids, straight from the database. */
async function customerIdsIn(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rows = (await client.query<{ id: string }>('SELECT id FROM customer')).rows.map((row) => row.id);
  await client.end();
  return rows;
}

/**
 * The engine's limit: an apply's transaction as SQL from a plain client, with none of Amend around it. The same
 * statements in the same round trips: the API key read; then, in one transaction, the customer read and locked,
 * the anomaly rules' read (sources touched, the customer's recent activity, open flags), the change request, the
 * customer and the outbox messages written, the audit chain head taken, and the request's six audit entries
 * appended (hashed, each linked to the one before) with the head moved. The rows are copies of the last request
 * the server applied, so they are the same sizes.
 */
async function rawTransaction(
  url: string,
): Promise<{ transaction: () => Promise<void>; close: () => Promise<void> }> {
  const ids = await customerIdsIn(url);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  const {
    rows: [request],
  } = await pool.query<{
    id: string;
    body: unknown;
    state: string;
    tier: string;
    channel: string;
    fields: string[];
  }>(
    `SELECT id, body, state, tier, channel, fields FROM change_request AS request
     WHERE EXISTS (SELECT FROM outbox WHERE change_request_id = request.id AND kind = 'propagation')
     ORDER BY created_at DESC LIMIT 1`,
  );
  if (!request) throw new Error('no applied change request to copy for the raw-SQL baseline');
  const { rows: messages } = await pool.query<{ destination: string; payload: unknown }>(
    `SELECT destination, payload FROM outbox WHERE change_request_id = $1 AND kind = 'propagation'`,
    [request.id],
  );
  const { rows: entries } = await pool.query<{ actor: unknown; action: string; details: unknown }>(
    'SELECT actor, action, details FROM audit_entry WHERE change_request_id = $1 ORDER BY id',
    [request.id],
  );
  const {
    rows: [key],
  } = await pool.query<{ key_hash: string; id: string }>(
    `SELECT key_hash, id FROM api_key WHERE role = 'integration' AND revoked_at IS NULL LIMIT 1`,
  );
  if (!key) throw new Error('no integration key for the raw-SQL baseline');
  const sources = ['ip:127.0.0.1', `key:${key.id}`];
  const raw = async () => {
    const customerId = ids[Math.floor(Math.random() * ids.length)]!;
    const requestId = randomUUID();
    await pool.query({
      name: 'raw_api_key',
      text: 'SELECT * FROM api_key WHERE key_hash = $1 AND revoked_at IS NULL',
      values: [key.key_hash],
    });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // The customer locked, and then its audit chain head, in one statement, as the server takes them.
      const {
        rows: [head],
      } = await client.query<{ head_seq: number; head_hash: string }>({
        name: 'raw_customer',
        text: `WITH locked AS MATERIALIZED (SELECT * FROM customer WHERE id = $1 FOR NO KEY UPDATE),
           head AS MATERIALIZED (SELECT seq, hash FROM audit_chain_head
             WHERE chain = (SELECT id::text FROM locked) FOR UPDATE)
         SELECT locked.*, (SELECT locked_until FROM verification_lock
           WHERE verification_lock.customer_id = locked.id AND locked_until > now()) AS verification_locked_until,
           (SELECT seq FROM head) AS head_seq, (SELECT hash FROM head) AS head_hash
         FROM locked`,
        values: [customerId],
      });
      await client.query({
        name: 'raw_anomaly_history',
        text: `WITH touched AS (
           INSERT INTO source_touch (source, customer_id, last_at)
           SELECT source, $1::uuid, now() FROM unnest($2::text[]) AS source
           ON CONFLICT (source, customer_id) DO UPDATE SET last_at = excluded.last_at
           RETURNING 1
         )
         SELECT
           (SELECT json_agg(json_build_object('source', given.source, 'count', 1 + (
             SELECT count(*)::int FROM (
               SELECT 1 FROM source_touch AS t
               WHERE t.source = given.source AND t.last_at >= now() - interval '1 hour' AND t.customer_id <> $1::uuid
               ORDER BY t.last_at DESC LIMIT 4) AS others)))
             FROM unnest($2::text[]) AS given (source), (SELECT count(*) FROM touched) AS written) AS counts,
           (SELECT json_agg(${ACTIVITY_TUPLE} ORDER BY seq)
             FROM (SELECT seq, occurred_at, actor, action, change_request_id, details
               FROM audit_entry WHERE chain = $1::text OFFSET 0) AS entry
             WHERE occurred_at >= now() - interval '1 hour' AND action = ANY($3::text[])) AS activity,
           (SELECT json_agg(flag) FROM anomaly_flag AS flag
             WHERE flag.status = 'open' AND (flag.customer_id = $1::uuid OR flag.subject = ANY($4::text[]))) AS flags`,
        values: [customerId, sources, ACTIVITY_ACTIONS, [`customer:${customerId}`, ...sources]],
      });
      // Each entry with the text its hash covers, which the constraint checks against the columns (ADR 0004).
      let { head_seq: seq, head_hash: hash } = head!;
      const occurredAt = new Date().toISOString();
      const rows = entries.map((entry) => {
        seq += 1;
        const hashedJson = JSON.stringify({
          chain: customerId,
          seq,
          prevHash: hash,
          occurredAt,
          actor: entry.actor,
          action: entry.action,
          changeRequestId: requestId,
          details: entry.details,
        });
        const row = {
          chain: customerId,
          seq,
          occurred_at: occurredAt,
          actor: entry.actor,
          action: entry.action,
          change_request_id: requestId,
          details: entry.details,
          prev_hash: hash,
          hash: createHash('sha256').update(hashedJson).digest('hex'),
          hashed_json: hashedJson,
        };
        hash = row.hash;
        return row;
      });
      // The request, the customer, the outbox and the audit entries in one statement, as the server writes them.
      // A sealed record is about 400 characters; the real write replaces it.
      await client.query({
        name: 'raw_write',
        text: `WITH request AS (
           INSERT INTO change_request (id, customer_id, state, tier, channel, version, created_at, updated_at, expires_at, body, fields)
           VALUES ($1, $2, $3, $4, $5, 1, now(), now(), now() + interval '14 days', $6, $7) RETURNING id
         ), customer AS (
           UPDATE customer SET sealed = $8, version = version + 1, updated_at = now() WHERE id = $2 RETURNING id
         ), messages AS (
           INSERT INTO outbox (kind, destination, customer_id, change_request_id, sequence, payload, next_attempt_at, created_at)
           SELECT 'propagation', m.destination, $2, $1, 1, m.payload, now(), now()
           FROM jsonb_to_recordset($9::jsonb) AS m (destination text, payload jsonb)
           WHERE EXISTS (SELECT FROM request) AND EXISTS (SELECT FROM customer)
         ), entries AS (
           INSERT INTO audit_entry (chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash, hashed_json)
           SELECT chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash, hashed_json
           FROM json_populate_recordset(NULL::audit_entry, $10::json)
           WHERE EXISTS (SELECT FROM customer)
         )
         UPDATE audit_chain_head SET seq = $11, hash = $12 WHERE chain = $2::text AND EXISTS (SELECT FROM customer)`,
        values: [
          requestId,
          customerId,
          request.state,
          request.tier,
          request.channel,
          request.body,
          request.fields,
          letters().repeat(64),
          JSON.stringify(messages),
          JSON.stringify(rows),
          seq,
          hash,
        ],
      });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  };
  return { transaction: raw, close: () => pool.end() };
}

/** `pgbench -N` (simple-update, no branch/teller contention) at 8 clients: what this PostgreSQL does at all. */
async function pgbenchInsertOnly(url: string): Promise<Run | null> {
  try {
    await run('pgbench', ['-i', '-q', '-s', '1', url]);
    const { stdout } = await run('pgbench', ['-N', '-c', '8', '-j', '2', '-T', String(SECONDS_PER_RUN), url]);
    const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
    const latency = Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1] ?? Number.NaN);
    console.error(`postgres pgbench -N c=8: ${Math.round(tps)} tps`);
    return {
      engine: 'postgres',
      what: 'pgbench -N (the server’s own limit)',
      concurrency: 8,
      requests: Math.round(tps * SECONDS_PER_RUN),
      perSecond: Math.round(tps),
      p50Ms: latency,
      p99Ms: Number.NaN,
      serverRssMb: null,
      serverPeakRssMb: null,
      serverCpuMsPerRequest: null,
    };
  } catch (error) {
    console.error(`pgbench skipped: ${(error as Error).message.split('\n')[0]}`);
    return null;
  }
}

const systems = await Promise.all(
  ['billing', 'shipping', 'marketing'].map((name) => startSampleSystem({ name, secret: 'bench' })),
);
// BENCH_ENGINES=postgres (or pglite) runs one engine only, for a quicker look at one figure.
const engines = (process.env.BENCH_ENGINES ?? 'pglite,postgres').split(',');
const runs = [
  ...(engines.includes('pglite') ? await benchEngine('pglite', systems) : []),
  ...(engines.includes('postgres')
    ? await benchEngine('postgres', systems).catch((error: unknown) => {
        console.error(`PostgreSQL skipped: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1; // a skipped engine is a failed benchmark, whatever the other engine measured
        return [];
      })
    : []),
];
await Promise.all(systems.map((system) => system.close()));

const ratio = (() => {
  const http = runs.find((r) => r.engine === 'postgres' && r.concurrency === 8 && r.what.startsWith('HTTP'));
  const raw = runs.find((r) => r.what.startsWith('raw SQL'));
  return http && raw ? Math.round((100 * http.perSecond) / raw.perSecond) : null;
})();
const cell = (value: number | null) => (value === null || Number.isNaN(value) ? '' : String(value));
const table = [
  `Apply benchmark, ${SECONDS_PER_RUN} s per row (PostgreSQL's HTTP row at 8 clients and its raw-SQL limit: ${RATIO_ROUNDS} alternating rounds of ${SECONDS_PER_RUN / 2} s each), ${new Date().toISOString()} (${process.version}, loopback; server in its own process)`,
  '',
  '| engine | what | concurrency | requests | per second | p50 ms | p99 ms | server RSS MB | server peak RSS MB | server CPU ms a request |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...runs.map(
    (r) =>
      `| ${r.engine} | ${r.what} | ${r.concurrency} | ${r.requests} | ${r.perSecond} | ${cell(r.p50Ms)} | ${cell(r.p99Ms)} | ${cell(r.serverRssMb)} | ${cell(r.serverPeakRssMb)} | ${cell(r.serverCpuMsPerRequest)} |`,
  ),
  '',
  ratio === null
    ? ''
    : `PostgreSQL HTTP apply at 8 clients is ${ratio}% of the raw-SQL rate (rounds: ${ratioRounds.join(', ')}%; target ≥ 50%, p99 ≤ 25 ms); server peak RSS target ≤ 300 MB.`,
  ...(propagationRuns.length > 0 ? ['', propagationTable(propagationRuns)] : []),
  ...(bulkRuns.length > 0 ? ['', bulkTable(bulkRuns)] : []),
].join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(
  new URL(`./results/${stamp}.json`, import.meta.url),
  `${JSON.stringify({ seconds: SECONDS_PER_RUN, runs, ratioRounds, propagation: propagationRuns, bulk: bulkRuns }, null, 2)}\n`,
);
writeFileSync(new URL(`./results/${stamp}.md`, import.meta.url), `${table}\n`);
console.log(table);
