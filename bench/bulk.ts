// The bulk part of `npm run bench` (issue #9): import customers from CSV with full validation beside a raw
// COPY of the same file; `amend audit verify` over the entries the import wrote beside raw SHA-256 over the same
// bytes; the monthly report over many requests. PostgreSQL only (the scale-out path). Sizes from
// BENCH_IMPORT_ROWS (default 1,000,000), BENCH_VERIFY_ENTRIES (default 10,000,000: the import's entries topped
// up with synthetic chains) and BENCH_REPORT_REQUESTS (default 1,000,000).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import pg from 'pg';

const AMEND = new URL('../bin/amend.js', import.meta.url).pathname;

/**
 * Node flags for every timed `amend` process: with BENCH_PROFILE_DIR set, each writes a V8 CPU profile there as it
 * exits (for a look at where a figure's time goes; the profiler's own cost skews that run's figures).
 */
export const PROFILING = process.env.BENCH_PROFILE_DIR
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
  : [];

export interface BulkRun {
  readonly what: string;
  readonly items: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** The same work's limit (raw COPY, raw SHA-256), or the target it is measured against. */
  readonly limit: string;
  readonly target: string;
}

const round = (value: number) => Math.round(value * 100) / 100;

/** Runs an `amend` command to completion; answers its wall time in seconds. */
async function timedAmend(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [...PROFILING, AMEND, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`amend ${args.join(' ')} exited with ${code}`);
  return (performance.now() - started) / 1000;
}

/** Runs an `amend` command that prints JSON; answers it. */
async function amendJson<T>(args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  const child = spawn(process.execPath, [...PROFILING, AMEND, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`amend ${args.join(' ')} exited with ${code}`);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

async function writeCustomersCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write(
    'legal_name,preferred_name,email,phone,address_line1,address_line2,locality,region,postcode,country,date_of_birth,consent_email,consent_sms,consent_post,consent_phone\n',
  );
  const word = (n: number) =>
    [...n.toString(26)]
      .map((d, i) => String.fromCharCode((i === 0 ? 65 : 97) + Number.parseInt(d, 26)))
      .join('');
  for (let i = 0; i < rows; i++) {
    const line = `Bulk ${word(i + 26)},,bulk${i}@example.com,+614${String(10_000_000 + (i % 89_999_999)).slice(-8)},${(i % 200) + 1} Example Street,,Carlton,VIC,3053,AU,1980-01-01,yes,no,yes,no\n`;
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  out.end();
  await finished(out);
}

/** The engine's limit for the same file: COPY into a table of the same columns, no validation. */
async function rawCopySeconds(url: string, file: string): Promise<number> {
  const started = performance.now();
  const psql = spawn(
    'psql',
    [
      url,
      '-q',
      '-c',
      `CREATE TABLE copy_limit (${Array.from({ length: 15 }, (_, i) => `c${i} text`).join(', ')})`,
      '-c',
      `\\copy copy_limit FROM '${file}' CSV HEADER`,
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const code = await new Promise<number | null>((resolve) => psql.once('exit', resolve));
  if (code !== 0) throw new Error('psql \\copy failed');
  return (performance.now() - started) / 1000;
}

/** Raw SHA-256 over exactly the bytes verification hashes: each entry's stored hashed text. */
async function rawSha256(url: string): Promise<{ seconds: number; entries: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let seconds = 0;
  let entries = 0;
  let bytes = 0;
  let after = 0;
  for (;;) {
    const { rows } = await client.query<{ id: string; hashed_json: string }>(
      'SELECT id, hashed_json FROM audit_entry WHERE id > $1 ORDER BY id LIMIT 20000',
      [after],
    );
    if (rows.length === 0) break;
    const inputs = rows.map((row) => Buffer.from(row.hashed_json, 'utf8'));
    const started = performance.now();
    for (const input of inputs) createHash('sha256').update(input).digest('hex');
    seconds += (performance.now() - started) / 1000;
    entries += inputs.length;
    bytes += inputs.reduce((sum, input) => sum + input.length, 0);
    after = Number(rows.at(-1)!.id);
  }
  await client.end();
  return { seconds, entries, bytes };
}

const ENTRIES_PER_SYNTHETIC_CHAIN = 10;

/**
 * Tops the audit log up to `total` entries with valid synthetic chains of 10 entries each ("bench-<n>"), written
 * by SQL level by level (each entry hashes its text and links to the one before), shaped like a
 * `change_request.propagation_started` entry (~440 bytes). An import writes one entry per customer; ten million
 * customers would take the bench hours. Vacuumed after, as autovacuum leaves an append-only table.
 */
async function growAuditLog(url: string, total: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_entry');
  const chains = Math.ceil(Math.max(0, total - rows[0]!.n) / ENTRIES_PER_SYNTHETIC_CHAIN);
  if (chains > 0) {
    await client.query(
      `CREATE TEMP TABLE previous_level AS
       SELECT 'bench-' || g AS chain, '${'0'.repeat(64)}'::text AS hash, timestamptz '2026-01-01T00:00:00Z' AS occurred_at
       FROM generate_series(1, $1::int) AS g`,
      [chains],
    );
    for (let seq = 1; seq <= ENTRIES_PER_SYNTHETIC_CHAIN; seq++) {
      await client.query(
        `CREATE TEMP TABLE level AS
         WITH drafted AS (
           SELECT chain, occurred_at + interval '1 minute' AS occurred_at, hash AS prev_hash,
             gen_random_uuid() AS change_request_id,
             '{"id": "amend", "kind": "system", "role": null}'::jsonb AS actor,
             jsonb_build_object('from', 'applied', 'to', 'propagating', 'revision', 1, 'tier', 'basic',
               'systems', jsonb_build_array('billing', 'marketing')) AS details
           FROM previous_level
         ), texted AS (
           SELECT *, jsonb_build_object('chain', chain, 'seq', $1::int, 'prevHash', prev_hash,
             'occurredAt', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'actor', actor,
             'action', 'change_request.propagation_started', 'changeRequestId', change_request_id,
             'details', details)::text AS hashed_json
           FROM drafted
         ), inserted AS (
           INSERT INTO audit_entry (chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash, hashed_json)
           SELECT chain, $1::int, occurred_at, actor, 'change_request.propagation_started', change_request_id, details,
             prev_hash, encode(sha256(convert_to(hashed_json, 'UTF8')), 'hex'), hashed_json
           FROM texted
           RETURNING chain, hash, occurred_at
         )
         SELECT * FROM inserted`,
        [seq],
      );
      await client.query('DROP TABLE previous_level');
      await client.query('ALTER TABLE level RENAME TO previous_level');
    }
    await client.query(
      `INSERT INTO audit_chain_head (chain, seq, hash) SELECT chain, $1::int, hash FROM previous_level`,
      [ENTRIES_PER_SYNTHETIC_CHAIN],
    );
  }
  await client.query('VACUUM ANALYZE audit_entry');
  await client.query('VACUUM ANALYZE audit_chain_head');
  await client.end();
}

/**
 * Spreads copies of the requests already made over one month, until there are `count`: each copy with its
 * template's outbox rows and, where the template was applied, its `change_request.applied` entry, so the
 * completeness review has as many applied changes to review as the month has. Each such entry opens a chain
 * of its own ("bench-report-<n>"), linked and hashed as an append would, so the log still verifies.
 */
async function multiplyRequests(url: string, count: number, month: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM change_request');
  const templates = rows[0]!.n;
  if (templates === 0) throw new Error('no change request to copy');
  const [year, monthNumber] = month.split('-').map(Number) as [number, number];
  const secondsInMonth = (Date.UTC(year, monthNumber, 1) - Date.UTC(year, monthNumber - 1, 1)) / 1000;
  // Ids as Amend makes them, UUIDv7 (time first), so a month's requests lie together in the indexes as they do
  // in a real database; random ones would scatter them.
  await client.query(
    `CREATE TEMP TABLE copy_of AS
     SELECT *, (lpad(to_hex((extract(epoch FROM created_at) * 1000)::bigint), 12, '0') || '7'
       || substr(md5(random()::text), 1, 3) || to_hex(8 + floor(random() * 4)::int)
       || substr(md5(random()::text), 1, 15))::uuid AS id
     FROM (
       SELECT g, t.id AS template_id, t.created_at AS template_created_at,
              $2::timestamptz + (g % $3::int) * interval '1 second' AS created_at
       FROM generate_series(1, $1::int) AS g
       JOIN (SELECT id, created_at, row_number() OVER () - 1 AS k FROM change_request) AS t ON t.k = g % ${templates}
     ) AS c`,
    [count - templates, `${month}-01T00:00:00Z`, secondsInMonth],
  );
  await client.query(
    `INSERT INTO change_request (id, customer_id, state, tier, channel, version, created_at, updated_at, expires_at, completed_at, fields, body)
     SELECT c.id, t.customer_id, t.state, t.tier, t.channel, t.version, c.created_at, c.created_at + interval '5 minutes',
            t.expires_at, c.created_at + (t.completed_at - t.created_at), t.fields, t.body || jsonb_build_object('id', c.id)
     FROM copy_of AS c JOIN change_request AS t ON t.id = c.template_id
     ORDER BY c.g`,
  );
  await client.query(
    `INSERT INTO outbox (kind, destination, customer_id, change_request_id, sequence, payload, status, attempts,
                         next_attempt_at, created_at, delivered_at, confirmed_at, confirmation)
     SELECT o.kind, o.destination, o.customer_id, c.id, o.sequence, o.payload || jsonb_build_object('changeId', c.id),
            o.status, o.attempts, c.created_at, c.created_at, c.created_at + (o.delivered_at - o.created_at),
            c.created_at + (o.confirmed_at - o.created_at), o.confirmation
     FROM copy_of AS c JOIN outbox AS o ON o.change_request_id = c.template_id
     ORDER BY c.g, o.id`,
  );
  await client.query(
    `WITH drafted AS (
       SELECT 'bench-report-' || c.g AS chain, c.id AS change_request_id, a.actor, a.details,
              date_trunc('milliseconds', c.created_at + (a.occurred_at - c.template_created_at)) AS occurred_at
       FROM copy_of AS c JOIN audit_entry AS a ON a.change_request_id = c.template_id AND a.action = 'change_request.applied'
       ORDER BY c.g
     ), texted AS (
       SELECT *, jsonb_build_object('chain', chain, 'seq', 1, 'prevHash', '${'0'.repeat(64)}',
         'occurredAt', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'actor', actor,
         'action', 'change_request.applied', 'changeRequestId', change_request_id, 'details', details)::text AS hashed_json
       FROM drafted
     ), inserted AS (
       INSERT INTO audit_entry (chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash, hashed_json)
       SELECT chain, 1, occurred_at, actor, 'change_request.applied', change_request_id, details, '${'0'.repeat(64)}',
              encode(sha256(convert_to(hashed_json, 'UTF8')), 'hex'), hashed_json
       FROM texted
       RETURNING chain, hash
     )
     INSERT INTO audit_chain_head (chain, seq, hash) SELECT chain, 1, hash FROM inserted`,
  );
  // A month's requests arrive over a month, and autovacuum has visited them by report time; a million inserted
  // one second ago would first have their hint bits set and statistics taken by the report's own scans. The
  // whole database: otherwise autovacuum, busy with the import's million customers, runs beside the report.
  await client.query('VACUUM ANALYZE');
  await client.end();
  return count;
}

export async function benchBulk(
  url: string,
  env: NodeJS.ProcessEnv,
  submitSome: (count: number) => Promise<void>,
): Promise<BulkRun[]> {
  const importRows = Number(process.env.BENCH_IMPORT_ROWS ?? 1_000_000);
  const reportRequests = Number(process.env.BENCH_REPORT_REQUESTS ?? 1_000_000);
  const verifyEntries = Number(process.env.BENCH_VERIFY_ENTRIES ?? 10_000_000);
  const work = mkdtempSync(join(tmpdir(), 'amend-bulk-'));
  const runs: BulkRun[] = [];
  try {
    const file = join(work, 'customers.csv');
    await writeCustomersCsv(file, importRows);
    const importSeconds = await timedAmend(['import', file], env); // start-up included: seconds against a minute
    const copySeconds = await rawCopySeconds(url, file);
    runs.push({
      what: 'import customers from CSV, fully validated, sealed, audited',
      items: importRows,
      seconds: round(importSeconds),
      perSecond: Math.round(importRows / importSeconds),
      limit: `raw COPY of the same file: ${Math.round(importRows / copySeconds)} rows/s`,
      target: `1,000,000 in ≤ 60 s`,
    });
    console.error(
      `bulk import: ${importRows} rows in ${round(importSeconds)} s; COPY ${round(copySeconds)} s`,
    );

    // Every `amend` command pays the same start-up (bundle, migrations check); measured once and left out.
    const startup = await timedAmend(
      ['report', '--month', '2000-01', '--format', 'json', '--out', join(work, 'e.json')],
      env,
    );
    await growAuditLog(url, verifyEntries);
    // Timed by the command itself: start-up differs between commands, so subtracting another's would flatter it.
    const verification = await amendJson<{ isIntact: boolean; seconds: number }>(
      ['audit', 'verify', '--json'],
      env,
    );
    if (!verification.isIntact) throw new Error('the audit log does not verify');
    const verifySeconds = verification.seconds;
    const raw = await rawSha256(url);
    runs.push({
      what: '`amend audit verify` (the import’s entries and synthetic chains), as it times itself',
      items: raw.entries,
      seconds: round(verifySeconds),
      perSecond: Math.round(raw.entries / verifySeconds),
      limit: `raw SHA-256 of the same ${Math.round(raw.bytes / 2 ** 20)} MB: ${Math.round(raw.entries / raw.seconds)} entries/s (verify is ${Math.round((100 * raw.seconds) / verifySeconds)}%)`,
      target: '≥ 50% of raw SHA-256, over 10,000,000 entries',
    });
    console.error(
      `bulk verify: ${raw.entries} entries in ${round(verifySeconds)} s; raw SHA-256 ${round(raw.seconds)} s`,
    );

    await submitSome(200);
    const month = new Date().toISOString().slice(0, 7);
    await multiplyRequests(url, reportRequests, month);
    const reportFile = join(work, 'r.json');
    const reportSeconds = await timedAmend(
      ['report', '--month', month, '--format', 'json', '--out', reportFile],
      env,
    );
    // The review's cost grows with the applied changes, not with the requests: say how many it read.
    const { compliance } = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      compliance: { appliedChanges: number };
    };
    runs.push({
      what: 'monthly report (JSON), start-up excluded',
      items: reportRequests,
      seconds: round(reportSeconds - startup),
      perSecond: Math.round(reportRequests / (reportSeconds - startup)),
      limit: `process start-up alone: ${round(startup)} s; ${compliance.appliedChanges} applied changes reviewed for completeness`,
      target: '1,000,000 requests in ≤ 5 s',
    });
    console.error(`bulk report: ${reportRequests} requests in ${round(reportSeconds - startup)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return runs;
}

export const bulkTable = (runs: readonly BulkRun[]) =>
  [
    '| bulk work | items | seconds | per second | beside | target |',
    '|---|---|---|---|---|---|',
    ...runs.map(
      (r) => `| ${r.what} | ${r.items} | ${r.seconds} | ${r.perSecond} | ${r.limit} | ${r.target} |`,
    ),
  ].join('\n');
