import { type Kysely, sql } from 'kysely';
import type { Actor } from '../core/change-request-types.ts';
import { json } from './row-fns.ts';
import type { Database } from './schema-types.ts';

type Executor = Kysely<Database>;

const countsBy = (rows: { key: string | null; count: number | string }[]) =>
  Object.fromEntries(
    rows.filter((row) => row.key !== null).map((row) => [row.key as string, Number(row.count)]),
  );

const numberOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));

/** The month's figures, aggregated in SQL (PostgreSQL 15 and PGlite alike). */
export async function monthlyFigures(db: Executor, from: string, to: string) {
  const inMonth = sql`created_at >= ${from}::timestamptz AND created_at < ${to}::timestamptz`;
  const [
    total,
    byTier,
    byChannel,
    byField,
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
    sql<{ count: number }>`SELECT count(*)::int AS count FROM change_request WHERE ${inMonth}`.execute(db),
    sql<{
      key: string;
      count: number;
    }>`SELECT tier AS key, count(*)::int AS count FROM change_request WHERE ${inMonth} GROUP BY tier`.execute(
      db,
    ),
    sql<{
      key: string;
      count: number;
    }>`SELECT channel AS key, count(*)::int AS count FROM change_request WHERE ${inMonth} GROUP BY channel`.execute(
      db,
    ),
    sql<{ key: string; count: number }>`
      SELECT field AS key, count(*)::int AS count
      FROM change_request, unnest(fields) AS field WHERE ${inMonth} GROUP BY 1`.execute(db),
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
    sql<{
      system: string;
      deliveries: number;
      confirmed: number;
      dead: number;
      median: number | null;
      p90: number | null;
    }>`
      SELECT destination AS system, count(*)::int AS deliveries,
        count(confirmed_at)::int AS confirmed, count(*) FILTER (WHERE status = 'dead')::int AS dead,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM (confirmed_at - created_at))) AS median,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM (confirmed_at - created_at))) AS p90
      FROM outbox WHERE kind = 'propagation' AND ${inMonth} GROUP BY destination ORDER BY destination`.execute(
      db,
    ),
    sql<{ count: number }>`
      SELECT count(*)::int AS count FROM outbox
      WHERE deadline_breached_at >= ${from}::timestamptz AND deadline_breached_at < ${to}::timestamptz`.execute(
      db,
    ),
  ]);
  return {
    volume: {
      total: total.rows[0]?.count ?? 0,
      byField: countsBy(byField.rows),
      byChannel: countsBy(byChannel.rows),
      byTier: countsBy(byTier.rows),
    },
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
    propagation: propagation.rows.map((row) => ({
      system: row.system,
      deliveries: row.deliveries,
      confirmed: row.confirmed,
      deadLetters: row.dead,
      medianLagSeconds: numberOrNull(row.median),
      p90LagSeconds: numberOrNull(row.p90),
    })),
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

/** Gauges and totals for /metrics, read at scrape time so every process reports the same truth. */
export async function metricsSnapshot(db: Executor, processingBucketsSeconds: readonly number[]) {
  const buckets = processingBucketsSeconds.map((le) => sql`count(*) FILTER (WHERE d <= ${le})::int`);
  const [states, outbox, flags, failures, processing] = await Promise.all([
    sql<{
      state: string;
      count: number;
    }>`SELECT state, count(*)::int AS count FROM change_request GROUP BY state`.execute(db),
    sql<{ depth: number; oldest: number | null; dead: number }>`
      SELECT count(*) FILTER (WHERE status = 'pending')::int AS depth,
        extract(epoch FROM (now() - min(created_at) FILTER (WHERE status = 'pending'))) AS oldest,
        count(*) FILTER (WHERE status = 'dead')::int AS dead
      FROM outbox`.execute(db),
    sql<{
      severity: string;
      count: number;
    }>`SELECT severity, count(*)::int AS count FROM anomaly_flag WHERE status = 'open' GROUP BY severity`.execute(
      db,
    ),
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
    outboxDepth: outbox.rows[0]?.depth ?? 0,
    outboxOldestAgeSeconds:
      outbox.rows[0]?.oldest === null || outbox.rows[0]?.oldest === undefined
        ? 0
        : Number(outbox.rows[0].oldest),
    deadLetters: outbox.rows[0]?.dead ?? 0,
    openFlagsBySeverity: Object.fromEntries(flags.rows.map((r) => [r.severity, r.count])),
    verificationFailures: failures.rows[0]?.count ?? 0,
    processing: {
      buckets: processingBucketsSeconds.map((_, i) => Number(row[`b${i}`] ?? 0)),
      count: Number(row.total ?? 0),
      sumSeconds: Number(row.sum ?? 0),
    },
  };
}
