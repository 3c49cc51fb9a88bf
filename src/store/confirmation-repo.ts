import type { Kysely, Selectable } from 'kysely';
import type { CaughtMail, NotMeLinkDraft, Page, SecurityCase } from '../app/ports.ts';
import type { Actor } from '../core/change-request-types.ts';
import { pageOf } from './page-fns.ts';
import { iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { Database, MailMessageTable, SecurityCaseTable } from './schema-types.ts';

type Executor = Kysely<Database>;

export async function insertNotMeLinks(db: Executor, links: readonly NotMeLinkDraft[]): Promise<void> {
  if (links.length === 0) return;
  await db
    .insertInto('not_me_link')
    .values(
      links.map((link) => ({
        id: link.id,
        change_request_id: link.changeRequestId,
        customer_id: link.customerId,
        created_at: link.now,
        expires_at: link.expiresAt,
      })),
    )
    .execute();
}

/** Single use: the UPDATE succeeds once, for an unexpired link; a second click learns why it cannot. */
export async function useNotMeLink(db: Executor, id: string, now: string) {
  const used = await db
    .updateTable('not_me_link')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', new Date(now))
    .returning(['change_request_id', 'customer_id'])
    .executeTakeFirst();
  if (used)
    return {
      outcome: 'used' as const,
      changeRequestId: used.change_request_id,
      customerId: used.customer_id,
    };
  const link = await db.selectFrom('not_me_link').select(['used_at']).where('id', '=', id).executeTakeFirst();
  return {
    outcome: !link ? ('unknown' as const) : link.used_at ? ('already_used' as const) : ('expired' as const),
  };
}

const caseFromRow = (row: Selectable<SecurityCaseTable>): SecurityCase => ({
  id: row.id,
  customerId: row.customer_id,
  changeRequestId: row.change_request_id,
  kind: row.kind as SecurityCase['kind'],
  priority: row.priority as SecurityCase['priority'],
  status: row.status as SecurityCase['status'],
  openedAt: iso(row.opened_at),
  linkId: row.link_id,
  revertRequestId: row.revert_request_id,
  resolvedAt: isoOrNull(row.resolved_at),
  resolvedBy: row.resolved_by ? parsed<Actor>(row.resolved_by) : null,
  resolution: row.resolution as SecurityCase['resolution'],
  note: row.note,
});

const caseToRow = (securityCase: SecurityCase) => ({
  id: securityCase.id,
  customer_id: securityCase.customerId,
  change_request_id: securityCase.changeRequestId,
  kind: securityCase.kind,
  priority: securityCase.priority,
  status: securityCase.status,
  opened_at: securityCase.openedAt,
  link_id: securityCase.linkId,
  revert_request_id: securityCase.revertRequestId,
  resolved_at: securityCase.resolvedAt,
  resolved_by: securityCase.resolvedBy ? json(securityCase.resolvedBy) : null,
  resolution: securityCase.resolution,
  note: securityCase.note,
});

export async function openSecurityCase(db: Executor, securityCase: SecurityCase): Promise<void> {
  await db.insertInto('security_case').values(caseToRow(securityCase)).execute();
}

export async function findSecurityCase(db: Executor, id: string): Promise<SecurityCase | null> {
  const row = await db.selectFrom('security_case').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? caseFromRow(row) : null;
}

export async function lockSecurityCase(db: Executor, id: string): Promise<SecurityCase | null> {
  const row = await db
    .selectFrom('security_case')
    .selectAll()
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  return row ? caseFromRow(row) : null;
}

export async function updateSecurityCase(db: Executor, securityCase: SecurityCase): Promise<void> {
  const { id, ...changes } = caseToRow(securityCase);
  await db.updateTable('security_case').set(changes).where('id', '=', id).execute();
}

export async function listSecurityCases(
  db: Executor,
  query: {
    status?: 'open' | 'resolved' | undefined;
    customerId?: string | undefined;
    limit: number;
    after?: string | undefined;
  },
): Promise<Page<SecurityCase>> {
  let select = db
    .selectFrom('security_case')
    .selectAll()
    .orderBy('id')
    .limit(query.limit + 1);
  if (query.status) select = select.where('status', '=', query.status);
  if (query.customerId) select = select.where('customer_id', '=', query.customerId);
  if (query.after) select = select.where('id', '>', query.after);
  return pageOf(await select.execute(), query.limit, caseFromRow, (row) => row.id);
}

export async function setCustomerFreeze(
  db: Executor,
  customerId: string,
  freeze: { caseId: string; frozenAt: string; reason: string } | null,
): Promise<void> {
  await db
    .updateTable('customer')
    .set({ security_hold: freeze ? json(freeze) : null })
    .where('id', '=', customerId)
    .execute();
}

const mailFromRow = (row: Selectable<MailMessageTable>): CaughtMail => ({
  id: row.id,
  createdAt: iso(row.created_at),
  to: row.recipient,
  subject: row.subject,
  text: row.text_body,
  html: row.html_body,
  changeRequestId: row.change_request_id,
});

export async function catchMail(db: Executor, mail: CaughtMail): Promise<void> {
  await db
    .insertInto('mail_message')
    .values({
      id: mail.id,
      created_at: mail.createdAt,
      recipient: mail.to,
      subject: mail.subject,
      text_body: mail.text,
      html_body: mail.html,
      change_request_id: mail.changeRequestId,
    })
    .execute();
}

export async function listCaughtMail(
  db: Executor,
  query: {
    recipient?: string | undefined;
    changeRequestId?: string | undefined;
    limit: number;
    after?: string | undefined;
  },
): Promise<Page<CaughtMail>> {
  let select = db
    .selectFrom('mail_message')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(query.limit + 1);
  if (query.recipient) select = select.where('recipient', '=', query.recipient);
  if (query.changeRequestId) select = select.where('change_request_id', '=', query.changeRequestId);
  if (query.after) select = select.where('id', '<', query.after);
  return pageOf(await select.execute(), query.limit, mailFromRow, (row) => row.id);
}
