import { type Kysely, type Selectable, sql } from 'kysely';
import type { AnomalyFlag, Page } from '../app/ports.ts';
import { type Activity, activityFromAuditEntry } from '../core/anomaly-fns.ts';
import type { Actor } from '../core/change-request-types.ts';
import type { Severity } from '../core/policy-types.ts';
import { auditEntryFromRow } from './audit-repo.ts';
import { pageOf } from './page-fns.ts';
import { iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { AnomalyFlagTable, Database } from './schema-types.ts';

type Executor = Kysely<Database>;

const ACTIVITY_ACTIONS = [
  'change_request.received',
  'change_request.verification_recorded',
  'change_request.applied',
  'change_request.reported_not_me',
];

export async function customerActivity(db: Executor, customerId: string, since: string): Promise<Activity[]> {
  const rows = await db
    .selectFrom('audit_entry')
    .selectAll()
    .where('chain', '=', customerId)
    .where('occurred_at', '>=', new Date(since))
    .where('action', 'in', ACTIVITY_ACTIONS)
    .orderBy('seq')
    .execute();
  return rows.map(auditEntryFromRow).flatMap((entry) => activityFromAuditEntry(entry) ?? []);
}

// The JSON path in the stored request that each kind of source is found at.
const SOURCE_MATCH: Record<string, (value: string) => ReturnType<typeof sql<boolean>>> = {
  ip: (value) => sql<boolean>`body->'source'->>'ip' = ${value}`,
  key: (value) => sql<boolean>`body->'source'->>'apiKeyId' = ${value}`,
  device: (value) => sql<boolean>`body->'source'->>'deviceId' = ${value}`,
  staff: (value) =>
    sql<boolean>`body->'requester'->>'kind' = 'staff' AND body->'requester'->>'id' = ${value}`,
};

export async function customersTouchedBySources(
  db: Executor,
  sources: readonly string[],
  since: string,
): Promise<Map<string, Set<string>>> {
  const touched = new Map<string, Set<string>>();
  for (const source of sources) {
    const [kind, ...rest] = source.split(':');
    const match = kind ? SOURCE_MATCH[kind] : undefined;
    if (!match) continue;
    const rows = await db
      .selectFrom('change_request')
      .select('customer_id')
      .distinct()
      .where('created_at', '>=', new Date(since))
      .where(match(rest.join(':')))
      .execute();
    touched.set(source, new Set(rows.map((row) => row.customer_id)));
  }
  return touched;
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
    .onConflict((conflict) => conflict.columns(['rule', 'subject']).where('status', '=', 'open').doNothing())
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
