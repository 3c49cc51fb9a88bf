import { recordEntry } from '../core/audit-draft-fns.ts';
import type { Actor, ChangeRequest, Source } from '../core/change-request-types.ts';
import type { Customer } from '../core/customer-types.ts';
import { fail, ok, type Result } from '../core/result.ts';
import { groupedBy } from '../core/value-fns.ts';
import type { OutboxStatus, Store, StoredAuditEntry, UseCaseContext } from './ports.ts';

type Deps = Pick<UseCaseContext, 'clock'> & { readonly store: Store };

const notFound = (id: string) => fail('CUSTOMER.NOT_FOUND', `No customer has id ${id}.`);

/**
 * A customer record in full. Anyone but the customer themself leaves an audit entry (`customer.viewed`): full
 * values of sensitive fields are shown only where the read is recorded. A customer asking for another's id is
 * told it does not exist.
 */
export async function viewCustomer(
  deps: Deps,
  customerId: string,
  reader: Actor,
  source: Source,
): Promise<Result<Customer>> {
  if (reader.kind === 'customer' && reader.id !== customerId) return notFound(customerId);
  const customer = await deps.store.findCustomer(customerId);
  if (!customer) return notFound(customerId);
  if (reader.kind !== 'customer')
    await deps.store.transaction((tx) =>
      tx.appendAudit([
        recordEntry(customerId, 'customer.viewed', deps.clock.now().toISOString(), reader, { source }),
      ]),
    );
  return ok(customer);
}

export interface CustomerDataExport {
  readonly exportedAt: string;
  readonly customer: Customer;
  readonly changeRequests: readonly ChangeRequest[];
  /** Who received the customer's data (GDPR Art. 15(1)(c)): each connected system and confirmation mail. */
  readonly recipients: readonly OutboxStatus[];
  readonly securityQuestions: readonly { question: string; setAt: string }[];
  readonly auditTrail: readonly StoredAuditEntry[];
}

/**
 * Everything Amend holds about a customer (GDPR Art. 15, Australian Privacy Principle 12), as one JSON
 * document: the record, every change request, where the data was sent, the questions set (never the answers'
 * hashes) and the full audit trail with its sealed values opened. The export itself is audited.
 */
export async function exportCustomerData(
  deps: Deps,
  customerId: string,
  reader: Actor,
  source: Source,
): Promise<Result<CustomerDataExport>> {
  if (reader.kind === 'customer' && reader.id !== customerId) return notFound(customerId);
  const customer = await deps.store.findCustomer(customerId);
  if (!customer) return notFound(customerId);
  const exportedAt = deps.clock.now().toISOString();
  const changeRequests: ChangeRequest[] = [];
  const recipients: OutboxStatus[] = [];
  for (let after: string | undefined, page = 0; page < 1_000; page += 1) {
    const batch = await deps.store.listChangeRequests({ customerId, limit: 200, after });
    changeRequests.push(...batch.items);
    // One read per page of requests, not one per request; listed request by request, as the requests are.
    const messages = groupedBy(
      await deps.store.outboxForChangeRequests(batch.items.map((request) => request.id)),
      (message) => message.changeRequestId ?? '',
    );
    for (const request of batch.items) recipients.push(...(messages.get(request.id) ?? []));
    if (!batch.nextCursor) break;
    after = batch.nextCursor;
  }
  const questions = await deps.store.securityQuestions(customerId);
  // Audited before the trail is read, so the export contains its own record.
  await deps.store.transaction((tx) =>
    tx.appendAudit([recordEntry(customerId, 'customer.exported', exportedAt, reader, { source })]),
  );
  return ok({
    exportedAt,
    customer,
    changeRequests,
    recipients,
    securityQuestions: questions.map(({ question, setAt }) => ({ question, setAt })),
    auditTrail: await deps.store.openedAuditTrail(customerId),
  });
}

/** An audit entry with its sealed values in full, for an auditor; the read is itself audited on the same chain. */
export async function readAuditValues(
  deps: Deps,
  entryId: number,
  reader: Actor,
): Promise<Result<{ entry: StoredAuditEntry; values: Readonly<Record<string, unknown>> }>> {
  const found = await deps.store.findAuditEntryValues(entryId);
  if (!found) return fail('AUDIT.ENTRY_NOT_FOUND', `No audit entry has id ${entryId}.`);
  await deps.store.transaction((tx) =>
    tx.appendAudit([
      recordEntry(found.entry.chain, 'audit.values_read', deps.clock.now().toISOString(), reader, {
        entryId,
      }),
    ]),
  );
  return ok(found);
}
