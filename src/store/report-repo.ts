import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { ReviewGroup, ReviewGroupMember } from '../app/ports.ts';
import { type Actor, CHANGE_REQUEST_STATES, FINAL_STATES, type Role } from '../core/change-request-types.ts';
import type { FieldName } from '../core/customer-types.ts';
import { percentileOfHistogram } from '../core/histogram-fns.ts';
import type { VerificationMethod } from '../core/policy-types.ts';
import { json } from './row-fns.ts';
import type { Database } from './schema-types.ts';

const UNFINISHED_STATES = CHANGE_REQUEST_STATES.filter((state) => !FINAL_STATES.has(state));

type Executor = Kysely<Database>;

const countsBy = (rows: { key: string | null; count: number | string }[]) =>
  Object.fromEntries(
    rows.filter((row) => row.key !== null).map((row) => [row.key as string, Number(row.count)]),
  );

const numberOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));

/** The month's volume by tier, channel and field, from its counts by all three at once. */
function volumeOf(
  rows: readonly { tier: string; channel: string; fields: readonly string[]; count: number }[],
) {
  const byTier: Record<string, number> = {};
  const byChannel: Record<string, number> = {};
  const byField: Record<string, number> = {};
  let total = 0;
  for (const { tier, channel, fields, count } of rows) {
    total += count;
    byTier[tier] = (byTier[tier] ?? 0) + count;
    byChannel[channel] = (byChannel[channel] ?? 0) + count;
    for (const field of fields) byField[field] = (byField[field] ?? 0) + count;
  }
  return { total, byField, byChannel, byTier };
}

interface LagRow {
  system: string;
  /** Commit to acknowledged in seconds, binned (`propagationLags`); null while unacknowledged. */
  lag: number | null;
  deliveries: number;
  dead: number;
}

/**
 * The month's deliveries to each connected system as a histogram of their lags, one row per system and bin: a few
 * thousand rows that PostgreSQL forms by hashing, where `percentile_cont` sorted millions of lags on disk, by
 * system and again by lag (2.3-2.5 s over two million deliveries; this 0.9-1.0 s). A bin is a millisecond up to
 * ten seconds, then four significant figures (10.01 s, 1,234 s): a month with an outage, its lags spread over
 * hours, still comes back as tens of thousands of rows at most, not one per delivery, and no percentile moves by
 * more than 0.05%. `date_part` gives float8, where `extract` gives numeric, whose arithmetic took a second of its
 * own. The outbox's change-request index carries every column read here: an index-only scan of it took 0.65 s
 * where PostgreSQL, pricing it as random reads, chose to scan the table and its payloads (1.9 s).
 */
function propagationLags(db: Executor, inMonth: RawBuilder<unknown>) {
  return withPlanner(db, { enable_seqscan: 'off', enable_bitmapscan: 'off' }, (trx) =>
    sql<LagRow>`
      SELECT destination AS system,
        CASE WHEN abs(lag) < 10 THEN round(lag * 1000) / 1000
          ELSE round(lag / 10 ^ (floor(log(abs(lag))) - 3)) * 10 ^ (floor(log(abs(lag))) - 3) END AS lag,
        count(*)::int AS deliveries, count(*) FILTER (WHERE status = 'dead')::int AS dead
      FROM (SELECT destination, status, date_part('epoch', confirmed_at - created_at) AS lag FROM outbox
            WHERE kind = 'propagation' AND ${inMonth}) AS delivery
      GROUP BY 1, 2`.execute(trx),
  );
}

function propagationOf({ rows }: { rows: LagRow[] }) {
  const systems = [...new Set(rows.map((row) => row.system))].sort();
  return systems.map((system) => {
    const mine = rows.filter((row) => row.system === system);
    const lags = mine.flatMap((row) =>
      row.lag === null ? [] : [{ value: Number(row.lag), count: row.deliveries }],
    );
    return {
      system,
      deliveries: mine.reduce((sum, row) => sum + row.deliveries, 0),
      confirmed: lags.reduce((sum, bin) => sum + bin.count, 0),
      deadLetters: mine.reduce((sum, row) => sum + row.dead, 0),
      medianLagSeconds: percentileOfHistogram(lags, 0.5),
      p90LagSeconds: percentileOfHistogram(lags, 0.9),
    };
  });
}

/**
 * Runs `read` with these planner settings, in the caller's transaction or in one of its own, then sets them back:
 * the rest of a transaction is planned as usual.
 */
async function withPlanner<T>(
  db: Executor,
  settings: Record<string, string>,
  read: (trx: Executor) => Promise<T>,
): Promise<T> {
  if (!db.isTransaction) return db.transaction().execute((trx) => withPlanner(trx, settings, read));
  const names = Object.keys(settings);
  await sql`SELECT ${sql.join(names.map((name) => sql`set_config(${name}, ${settings[name]}, true)`))}`.execute(
    db,
  );
  const result = await read(db);
  await sql`SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name = ANY(${names}::text[])`.execute(
    db,
  );
  return result;
}

/** The month's figures, aggregated in SQL (PostgreSQL 15 and PGlite alike). */
export async function monthlyFigures(db: Executor, from: string, to: string) {
  const inMonth = sql`created_at >= ${from}::timestamptz AND created_at < ${to}::timestamptz`;
  const [
    volume,
    timing,
    reviews,
    reverts,
    flagsRaised,
    flagsConfirmed,
    notMe,
    breaches,
    propagation,
    optOut,
  ] = await Promise.all([
    // One pass over the month's requests (change_request_month_idx carries all three): each distinct tier,
    // channel and set of fields is a row, a handful however many requests. Four scans, one per figure, took
    // 2.8-3.0 s in all over a million requests on a slow hour; this one 0.6-1.2 s.
    sql<{ tier: string; channel: string; fields: string[]; count: number }>`
      SELECT tier, channel, fields, count(*)::int AS count FROM change_request WHERE ${inMonth}
      GROUP BY tier, channel, fields`.execute(db),
    sql<{ completed: number; median: number | null; p90: number | null }>`
      SELECT count(*)::int AS completed,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (completed_at - created_at)) / 60) AS median,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM (completed_at - created_at)) / 60) AS p90
      FROM change_request
      WHERE completed_at >= ${from}::timestamptz AND completed_at < ${to}::timestamptz`.execute(db),
    sql<{ reviewed: number; with_error: number }>`
      SELECT count(*)::int AS reviewed, count(*) FILTER (WHERE has_error)::int AS with_error
      FROM quality_review WHERE reviewed_at >= ${from}::timestamptz AND reviewed_at < ${to}::timestamptz`.execute(
      db,
    ),
    sql<{ reverts: number; not_reviewed: number }>`
      SELECT count(*)::int AS reverts, count(*) FILTER (WHERE q.change_request_id IS NULL)::int AS not_reviewed
      FROM audit_entry a LEFT JOIN quality_review q ON q.change_request_id = a.change_request_id
      WHERE a.action = 'change_request.reverted' AND a.occurred_at >= ${from}::timestamptz AND a.occurred_at < ${to}::timestamptz`.execute(
      db,
    ),
    sql<{ key: string; count: number }>`
      SELECT rule AS key, count(*)::int AS count FROM anomaly_flag
      WHERE raised_at >= ${from}::timestamptz AND raised_at < ${to}::timestamptz GROUP BY rule`.execute(db),
    sql<{ count: number }>`
      SELECT count(*)::int AS count FROM anomaly_flag
      WHERE status = 'confirmed' AND reviewed_at >= ${from}::timestamptz AND reviewed_at < ${to}::timestamptz`.execute(
      db,
    ),
    sql<{ count: number }>`
      SELECT count(*)::int AS count FROM security_case WHERE opened_at >= ${from}::timestamptz AND opened_at < ${to}::timestamptz`.execute(
      db,
    ),
    sql<{ count: number }>`
      SELECT count(*)::int AS count FROM audit_entry
      WHERE action = 'change_request.approval_overdue' AND occurred_at >= ${from}::timestamptz AND occurred_at < ${to}::timestamptz`.execute(
      db,
    ),
    propagationLags(db, inMonth),
    sql<{ count: number }>`
      SELECT count(*)::int AS count FROM outbox
      WHERE deadline_breached_at >= ${from}::timestamptz AND deadline_breached_at < ${to}::timestamptz`.execute(
      db,
    ),
  ]);
  return {
    volume: volumeOf(volume.rows),
    processingTime: {
      completed: timing.rows[0]?.completed ?? 0,
      medianMinutes: numberOrNull(timing.rows[0]?.median),
      p90Minutes: numberOrNull(timing.rows[0]?.p90),
    },
    reviews: { reviewed: reviews.rows[0]?.reviewed ?? 0, withError: reviews.rows[0]?.with_error ?? 0 },
    reverts: { total: reverts.rows[0]?.reverts ?? 0, notReviewed: reverts.rows[0]?.not_reviewed ?? 0 },
    flagsRaised: countsBy(flagsRaised.rows),
    flagsConfirmed: flagsConfirmed.rows[0]?.count ?? 0,
    notMeReports: notMe.rows[0]?.count ?? 0,
    approvalSlaBreaches: breaches.rows[0]?.count ?? 0,
    propagation: propagationOf(propagation),
    optOutDeadlineBreaches: optOut.rows[0]?.count ?? 0,
  };
}

export async function recordQualityReview(
  db: Executor,
  review: { changeRequestId: string; by: Actor; at: string; hasError: boolean; note: string | null },
): Promise<boolean> {
  const result = await db
    .insertInto('quality_review')
    .values({
      change_request_id: review.changeRequestId,
      reviewed_by: json(review.by),
      reviewed_at: review.at,
      has_error: review.hasError,
      note: review.note,
    })
    .onConflict((conflict) => conflict.column('change_request_id').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** A random sample of the month's completed requests not yet reviewed. */
export async function qualitySample(db: Executor, from: string, to: string, size: number): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    SELECT r.id FROM change_request r LEFT JOIN quality_review q ON q.change_request_id = r.id
    WHERE r.state IN ('completed', 'reverted') AND q.change_request_id IS NULL
      AND r.completed_at >= ${from}::timestamptz AND r.completed_at < ${to}::timestamptz
    ORDER BY random() LIMIT ${size}`.execute(db);
  return rows.rows.map((row) => row.id);
}

/**
 * The backlog for /metrics, read at every scrape so every process reports the same truth: requests not yet in a
 * final state, the outbox and open flags. Each count is answered from a partial or leading-column index over
 * those rows alone, so a scrape costs the same on a day-old database as on one with ten million entries.
 */
export async function metricsBacklog(db: Executor) {
  const [states, outbox, flags] = await Promise.all([
    sql<{ state: string; count: number }>`
      SELECT state, count(*)::int AS count FROM change_request
      WHERE state = ANY(${[...UNFINISHED_STATES]}::text[]) GROUP BY state`.execute(db),
    // Three subqueries, not one pass with FILTER: each is answered from its own partial index
    // (outbox_due_idx, outbox_dead_idx); the single pass read the whole outbox, delivered rows and all.
    sql<{ depth: number; oldest: number | null; dead: number }>`
      SELECT (SELECT count(*) FROM outbox WHERE status = 'pending')::int AS depth,
        extract(epoch FROM (now() - (SELECT min(created_at) FROM outbox WHERE status = 'pending'))) AS oldest,
        (SELECT count(*) FROM outbox WHERE status = 'dead')::int AS dead`.execute(db),
    sql<{ severity: string; count: number }>`
      SELECT severity, count(*)::int AS count FROM anomaly_flag WHERE status = 'open' GROUP BY severity`.execute(
      db,
    ),
  ]);
  const oldest = outbox.rows[0]?.oldest;
  return {
    requestsByState: Object.fromEntries(states.rows.map((r) => [r.state, r.count])),
    outboxDepth: outbox.rows[0]?.depth ?? 0,
    outboxOldestAgeSeconds: oldest === null || oldest === undefined ? 0 : Number(oldest),
    deadLetters: outbox.rows[0]?.dead ?? 0,
    openFlagsBySeverity: Object.fromEntries(flags.rows.map((r) => [r.severity, r.count])),
  };
}

/**
 * The all-time figures for /metrics: requests in each final state, failed identity checks and the processing
 * histogram. Each reads every finished request (or every recorded check), so `createMetrics` reads them at most
 * once a minute per process.
 */
export async function metricsHistory(db: Executor, processingBucketsSeconds: readonly number[]) {
  const buckets = processingBucketsSeconds.map((le) => sql`count(*) FILTER (WHERE d <= ${le})::int`);
  const [states, failures, processing] = await Promise.all([
    sql<{ state: string; count: number }>`
      SELECT state, count(*)::int AS count FROM change_request
      WHERE state = ANY(${[...FINAL_STATES]}::text[]) GROUP BY state`.execute(db),
    sql<{ count: number }>`
      SELECT count(*)::int AS count FROM audit_entry
      WHERE action = 'change_request.verification_recorded' AND details->>'outcome' = 'failed'`.execute(db),
    sql<Record<string, number>>`
      SELECT ${sql.join(buckets.map((bucket, i) => sql`${bucket} AS ${sql.ref(`b${i}`)}`))}, count(*)::int AS total, coalesce(sum(d), 0) AS sum
      FROM (SELECT extract(epoch FROM (completed_at - created_at)) AS d
            FROM change_request WHERE completed_at IS NOT NULL) AS completed`.execute(db),
  ]);
  const row = processing.rows[0] ?? {};
  return {
    requestsByState: Object.fromEntries(states.rows.map((r) => [r.state, r.count])),
    verificationFailures: failures.rows[0]?.count ?? 0,
    processing: {
      buckets: processingBucketsSeconds.map((_, i) => Number(row[`b${i}`] ?? 0)),
      count: Number(row.total ?? 0),
      sumSeconds: Number(row.sum ?? 0),
    },
  };
}

interface ReviewedRow {
  is_gone: boolean;
  fields: FieldName[] | null;
  passed_methods: VerificationMethod[] | null;
  is_revert: boolean | null;
  is_read_back: boolean | null;
  approver_id: string | null;
  approver_role: Role | null;
  is_approver_handler: boolean | null;
  sent: string | number | bigint;
  unconfirmed: string | number | bigint;
  is_customer_confirmed: boolean;
}

const FACTS = sql`is_gone, fields, passed_methods, is_revert, is_read_back, approver_id, approver_role,
  is_approver_handler, sent, unconfirmed, is_customer_confirmed`;
/** The facts as one text: equal facts, equal key. */
const KEY = sql<string>`ROW(${FACTS})::text`;

/**
 * The changes whose `applied` entry falls in [from, to), one row each with the facts PostgreSQL keeps beside the
 * request (migration 0018) and its deliveries to `systems` as bit masks (bit i: systems[i]), which aggregate far
 * faster than arrays of names. Each change's deliveries are aggregated beside it (LATERAL: one probe of the
 * outbox index a change, streaming), not grouped by change across the month, which PostgreSQL planned as three
 * million probes on three processes, sorted on disk. Over a million changes the review's query took 3.1–3.7 s
 * that way, and 2.6 s on one process this way with its groups formed by hashing (`reviewGroups`).
 */
function reviewedChanges(from: string, to: string, systems: readonly string[]) {
  const bit = sql`1::bigint << (array_position(${[...systems]}::text[], o.destination) - 1)`;
  return sql`
    SELECT a.id AS entry_id, a.occurred_at, a.change_request_id AS id, r.customer_id, r.id IS NULL AS is_gone,
      r.fields, r.passed_methods, r.is_revert, r.is_read_back, r.approver_id, r.approver_role,
      r.is_approver_handler, coalesce(d.sent, 0) AS sent, coalesce(d.unconfirmed, 0) AS unconfirmed,
      coalesce(d.is_customer_confirmed, false) AS is_customer_confirmed
    FROM audit_entry AS a
    LEFT JOIN change_request AS r ON r.id = a.change_request_id
    LEFT JOIN LATERAL (
      SELECT bit_or(${bit}) FILTER (WHERE o.kind = 'propagation') AS sent,
        bit_or(${bit}) FILTER (WHERE o.kind = 'propagation' AND o.confirmed_at IS NULL) AS unconfirmed,
        bool_or(o.kind = 'confirmation' AND o.confirmed_at IS NOT NULL) AS is_customer_confirmed
      FROM outbox AS o WHERE o.change_request_id = a.change_request_id
    ) AS d ON true
    WHERE a.action = 'change_request.applied'
      AND a.occurred_at >= ${from}::timestamptz AND a.occurred_at < ${to}::timestamptz`;
}

/**
 * Sets up the review's reads for the rest of the caller's transaction, in one statement:
 * - room for its hashes in memory. With the default 4 MB, and a month's applied entries underestimated (5x, on a
 *   log of ten million), PostgreSQL grouped a million rows by sorting them on disk: 7.1–7.4 s against 5.1 s.
 * - no caching of each change's deliveries (Memoize). A change's deliveries are read once, as each applied change
 *   is its own request; the cache never hit and held 118 MB over a million changes. Without it the review took
 *   4.8-5.0 s against 7.2-7.5 s, on a slow hour.
 */
const prepareReview = (db: Executor) =>
  sql`SELECT set_config('work_mem', '64MB', true), set_config('enable_memoize', 'off', true)`.execute(db);

const systemsIn = (systems: readonly string[], mask: string | number | bigint) =>
  systems.filter((_, index) => (BigInt(mask) >> BigInt(index)) & 1n);

/**
 * The month's applied changes in groups that share their review facts: one row per group, however many changes.
 * `facts` is null for changes the audit log records as applied whose request is gone. In a transaction (it sets
 * `work_mem` for the rest of it).
 */
export async function reviewGroups(
  db: Executor,
  from: string,
  to: string,
  systems: readonly string[],
): Promise<ReviewGroup[]> {
  await prepareReview(db);
  // A million changes fall into a handful of groups, which a hash forms in one pass; PostgreSQL, estimating the
  // month's applied entries twelve times too few on a log of ten million, sorted them all on disk instead
  // (112 MB): 3.9 s against 2.6 s. So sorting is priced out.
  const { rows } = await withPlanner(db, { enable_sort: 'off' }, (trx) =>
    sql<ReviewedRow & { key: string; applied_changes: number }>`
      SELECT ${FACTS}, ${KEY} AS key, count(*)::int AS applied_changes
      FROM (${reviewedChanges(from, to, systems)}) AS reviewed
      GROUP BY ${FACTS}`.execute(trx),
  );
  return rows.map((row) => ({
    key: row.key,
    appliedChanges: row.applied_changes,
    facts: row.is_gone
      ? null
      : {
          fields: row.fields!,
          passedMethods: row.passed_methods!,
          isRevert: row.is_revert!,
          isReadBack: row.is_read_back!,
          approver:
            row.approver_id === null
              ? null
              : { id: row.approver_id, role: row.approver_role, isHandler: row.is_approver_handler! },
          sentTo: systemsIn(systems, row.sent),
          unconfirmedBy: systemsIn(systems, row.unconfirmed),
          isCustomerConfirmed: row.is_customer_confirmed,
        },
  }));
}

/** The changes of the groups with these keys (`reviewGroups`), in the order they were applied. */
export async function reviewGroupMembers(
  db: Executor,
  from: string,
  to: string,
  systems: readonly string[],
  keys: readonly string[],
): Promise<ReviewGroupMember[]> {
  if (keys.length === 0) return [];
  await prepareReview(db);
  const { rows } = await sql<{ key: string; id: string; customer_id: string | null }>`
    SELECT ${KEY} AS key, id, customer_id FROM (${reviewedChanges(from, to, systems)}) AS reviewed
    WHERE ${KEY} = ANY(${[...keys]}::text[])
    ORDER BY occurred_at, entry_id`.execute(db);
  return rows.map((row) => ({ key: row.key, changeRequestId: row.id, customerId: row.customer_id }));
}
