import type { AuditEntryDraft } from '../core/audit-types.ts';
import type { Actor } from '../core/change-request-types.ts';
import type { Customer } from '../core/customer-types.ts';
import type { Store } from './ports.ts';

/** The `customer.created` entries that open new customers' audit chains. */
export function customerCreatedEntries(
  customers: readonly Customer[],
  actor: Actor,
  source: string,
): AuditEntryDraft[] {
  return customers.map((customer) => ({
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
}

/** Inserts new customers, each with a first audit entry opening its chain, in the caller's transaction. */
export async function registerCustomers(
  tx: Pick<Store, 'insertCustomers' | 'openAuditChains'>,
  customers: readonly Customer[],
  actor: Actor,
  source: string,
): Promise<void> {
  await tx.insertCustomers(customers);
  await tx.openAuditChains(customerCreatedEntries(customers, actor, source));
}
