import type { AuditEntryDraft } from '../core/audit-types.ts';
import type { Actor } from '../core/change-request-types.ts';
import type { Customer } from '../core/customer-types.ts';
import type { Store } from './ports.ts';

/** Inserts new customers, each with a first audit entry opening its chain, in the caller's transaction. */
export async function registerCustomers(
  tx: Pick<Store, 'insertCustomers' | 'openAuditChains'>,
  customers: readonly Customer[],
  actor: Actor,
  source: string,
): Promise<void> {
  await tx.insertCustomers(customers);
  const drafts: AuditEntryDraft[] = customers.map((customer) => ({
    chain: customer.id,
    occurredAt: customer.createdAt,
    actor,
    action: 'customer.created',
    changeRequestId: null,
    details: {
      source,
      fields: Object.entries(customer.confirmedAt)
        .filter(([, at]) => at !== null)
        .map(([group]) => group),
    },
  }));
  await tx.openAuditChains(drafts);
}
