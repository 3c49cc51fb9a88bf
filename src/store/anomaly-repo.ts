import { type Kysely, type Selectable, sql } from 'kysely';
import type { AnomalyFlag, AnomalyHistoryQuery, AnomalyHistoryRead, Page } from '../app/ports.ts';
import { type Activity, activityFromAuditEntry } from '../core/anomaly-fns.ts';
import type { Actor } from '../core/change-request-types.ts';
import type { FieldName } from '../core/customer-types.ts';
import type { Severity } from '../core/policy-types.ts';
import { pageOf } from './page-fns.ts';
import { iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { AnomalyFlagTable, Database } from './schema-types.ts';

type Executor = Kysely<Database>;

/** The audit actions the anomaly rules count (also the benchmark's raw-SQL baseline, which must read the same). */
export const ACTIVITY_ACTIONS = [
  'change_request.received',
  'change_request.verification_recorded',
  'change_request.applied',
  'change_request.reported_not_me',
];

/**
 * One audit entry as the anomaly rules read it (`activityFromAuditEntry`): only the parts they look at, as a JSON
 * array (`ActivityTuple`). Whole entries carry the values proposed and changed, the client's user agent and the
 * hashes: for a customer with 312 entries in the window, that statement shipped 300 kB and took 9-14 ms, this one
 * 74 kB and 1.6-3.2 ms (PostgreSQL, loopback), and the intake's whole anomaly read 19-22 ms against 4-6 ms at the
 * median. Scalars leave as text (`->>`); as jsonb, or in objects with named members, it took 2-3 times as long.
 * Plain SQL text, so the benchmark's raw-SQL baseline reads the same.
 */
export const ACTIVITY_TUPLE = `json_build_array(occurred_at, action, change_request_id, actor->>'kind', actor->>'id',
  details->>'to', details->>'tier', details->'fields', details->>'outcome', jsonb_typeof(details->'source') = 'object',
  details#>>'{source,ip}', details#>>'{source,apiKeyId}', details#>>'{source,deviceId}',
  jsonb_path_query_array(details, '$.changes[*].field'))`;

type ActivityTuple = [
  occurredAt: string,
  action: string,
  changeRequestId: string | null,
  actorKind: string,
  actorId: string,
  to: string | null,
  tier: string | null,
  fields: FieldName[] | null,
  outcome: string | null,
  hasSource: boolean,
  ip: string | null,
  apiKeyId: string | null,
  deviceId: string | null,
  changedFields: FieldName[],
];

/**
 * A customer's audit entries the anomaly rules look at, since `since`, oldest first, as one JSON array of
 * `ActivityTuple`s. The chain is read through its own index and filtered after: `OFFSET 0` keeps the window and
 * action conditions out of the scan. Offered them, the planner may AND in the (action, occurred_at) index, which
 * holds every customer's recent activity; without fresh statistics it did, and each intake read the whole window
 * of the whole log (3 ms at 60,000 entries).
 */
const recentActivity = (customerId: string, since: string) => sql<string>`
  SELECT coalesce(json_agg(${sql.raw(ACTIVITY_TUPLE)} ORDER BY seq), '[]')
  FROM (SELECT seq, occurred_at, actor, action, change_request_id, details
    FROM audit_entry WHERE chain = ${customerId} OFFSET 0) AS entry
  WHERE occurred_at >= ${since}::timestamptz AND action = ANY(${ACTIVITY_ACTIONS}::text[])`;

// The rules read a missing member and a null one alike (`??`, truthiness), so the tuple's nulls pass as they are.
const activityOf = (chain: string, tuples: ActivityTuple[]): Activity[] =>
  tuples.flatMap((tuple) => {
    const [
      occurredAt,
      action,
      changeRequestId,
      kind,
      id,
      to,
      tier,
      fields,
      outcome,
      hasSource,
      ip,
      apiKeyId,
      deviceId,
      changed,
    ] = tuple;
    const details = {
      to,
      tier,
      fields,
      outcome,
      source: hasSource ? { ip, apiKeyId, deviceId } : null,
      changes: changed.map((field) => ({ field })),
    };
    const entry = {
      occurredAt: iso(occurredAt),
      chain,
      action,
      changeRequestId,
      actor: { kind, id },
      details,
    };
    return activityFromAuditEntry(entry) ?? [];
  });

export async function customerActivity(db: Executor, customerId: string, since: string): Promise<Activity[]> {
  const { rows } = await sql<{
    activity: string;
  }>`SELECT (${recentActivity(customerId, since)}) AS activity`.execute(db);
  return activityOf(customerId, parsed(rows[0]!.activity));
}

/**
 * Everything the anomaly rules need about one activity, in one statement (an intake runs this on every change
 * request, so each round trip counts): the customer's recent activity; the intake's sources recorded as touching
 * the customer at `touch.at` and, per source, the distinct customers it touched since `touch.since`, this one
 * included, counted no further than `touch.cap` (the rule only asks whether the threshold is reached); and the
 * open flags on the customer or on those sources. The counts read the snapshot before the upsert, so this
 * customer is added as one.
 *
 * The count walks the (source, last_at) index newest first and stops at the cap. Without the order the planner
 * took a bitmap scan, which reads every entry in the window, the dead ones each upsert leaves included, and never
 * marks them dead: 1.4 ms for three rows after a minute of load, against 0.02 ms.
 */
export async function anomalyHistory(db: Executor, query: AnomalyHistoryQuery): Promise<AnomalyHistoryRead> {
  const { customerId, touch } = query;
  const subjects = [`customer:${customerId}`, ...touch.sources];
  const { rows } = await sql<{
    counts: { source: string; count: number }[];
    activity: string;
    flags: never[];
  }>`
    WITH touched AS (
      INSERT INTO source_touch (source, customer_id, last_at)
      SELECT source, ${customerId}::uuid, ${touch.at}::timestamptz FROM unnest(${touch.sources}::text[]) AS source
      ON CONFLICT (source, customer_id) DO UPDATE SET last_at = excluded.last_at
      RETURNING 1
    )
    SELECT
      (SELECT coalesce(json_agg(json_build_object('source', given.source, 'count', 1 + (
        SELECT count(*)::int FROM (
          SELECT 1 FROM source_touch AS t
          WHERE t.source = given.source AND t.last_at >= ${touch.since}::timestamptz
            AND t.customer_id <> ${customerId}::uuid
          ORDER BY t.last_at DESC
          LIMIT ${Math.max(0, touch.cap - 1)}) AS others))), '[]')
        FROM unnest(${touch.sources}::text[]) AS given (source), (SELECT count(*) FROM touched) AS written) AS counts,
      (${recentActivity(customerId, query.since)}) AS activity,
      (SELECT coalesce(json_agg(flag), '[]') FROM anomaly_flag AS flag
        WHERE flag.status = 'open'
          AND (flag.customer_id = ${customerId}::uuid OR flag.subject = ANY(${subjects}::text[]))) AS flags`.execute(
    db,
  );
  const row = rows[0]!;
  return {
    activity: activityOf(customerId, parsed(row.activity)),
    customersBySource: new Map(parsed<typeof row.counts>(row.counts).map((c) => [c.source, Number(c.count)])),
    openFlags: parsed<Selectable<AnomalyFlagTable>[]>(row.flags).map(flagFromRow),
  };
}

export async function pruneSourceTouches(db: Executor, before: string): Promise<number> {
  const result = await db
    .deleteFrom('source_touch')
    .where('last_at', '<', new Date(before))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

const flagFromRow = (row: Selectable<AnomalyFlagTable>): AnomalyFlag => ({
  id: row.id,
  rule: row.rule as AnomalyFlag['rule'],
  severity: row.severity as Severity,
  customerId: row.customer_id,
  changeRequestId: row.change_request_id ?? '',
  subject: row.subject,
  evidence: parsed(row.evidence),
  status: row.status as AnomalyFlag['status'],
  raisedAt: iso(row.raised_at),
  reviewedBy: row.reviewed_by ? parsed<Actor>(row.reviewed_by) : null,
  reviewedAt: isoOrNull(row.reviewed_at),
  reviewReason: row.review_reason,
});

export async function recordAnomalyFlags(
  db: Executor,
  flags: readonly AnomalyFlag[],
): Promise<AnomalyFlag[]> {
  if (flags.length === 0) return [];
  const rows = await db
    .insertInto('anomaly_flag')
    .values(
      flags.map((flag) => ({
        id: flag.id,
        rule: flag.rule,
        severity: flag.severity,
        customer_id: flag.customerId,
        change_request_id: flag.changeRequestId || null,
        subject: flag.subject,
        evidence: json(flag.evidence),
        raised_at: flag.raisedAt,
      })),
    )
    // A literal: the partial index is inferred when the statement is planned, before any parameter is bound.
    .onConflict((conflict) =>
      conflict.columns(['rule', 'subject']).where('status', '=', sql.lit('open')).doNothing(),
    )
    .returningAll()
    .execute();
  return rows.map(flagFromRow);
}

export async function openAnomalyFlags(
  db: Executor,
  customerId: string,
  severities: readonly Severity[],
): Promise<AnomalyFlag[]> {
  if (severities.length === 0) return [];
  const rows = await db
    .selectFrom('anomaly_flag')
    .selectAll()
    .where('customer_id', '=', customerId)
    .where('status', '=', 'open')
    .where('severity', 'in', [...severities])
    .execute();
  return rows.map(flagFromRow);
}

export async function listAnomalyFlags(
  db: Executor,
  query: {
    status?: string | undefined;
    severity?: string | undefined;
    rule?: string | undefined;
    customerId?: string | undefined;
    limit: number;
    after?: string | undefined;
  },
): Promise<Page<AnomalyFlag>> {
  let select = db
    .selectFrom('anomaly_flag')
    .selectAll()
    .orderBy('id')
    .limit(query.limit + 1);
  if (query.status) select = select.where('status', '=', query.status);
  if (query.severity) select = select.where('severity', '=', query.severity);
  if (query.rule) select = select.where('rule', '=', query.rule);
  if (query.customerId) select = select.where('customer_id', '=', query.customerId);
  if (query.after) select = select.where('id', '>', query.after);
  return pageOf(await select.execute(), query.limit, flagFromRow, (row) => row.id);
}

export async function reviewAnomalyFlag(
  db: Executor,
  id: string,
  review: { status: 'dismissed' | 'confirmed'; by: Actor; at: string; reason: string },
): Promise<AnomalyFlag | null> {
  const row = await db
    .updateTable('anomaly_flag')
    .set({
      status: review.status,
      reviewed_by: json(review.by),
      reviewed_at: review.at,
      review_reason: review.reason,
    })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
  return row ? flagFromRow(row) : null;
}
