import { SYSTEM_ACTOR } from '../core/change-request-types.ts';
import { driftedPaths } from '../core/consistency-fns.ts';
import type { FieldName } from '../core/customer-types.ts';
import type { ConnectedSystem, Store, UseCaseContext } from './ports.ts';

export interface DriftFound {
  readonly customerId: string;
  readonly system: string;
  /** Field paths whose value differs (or that the system does not hold at all). */
  readonly paths: string[];
  readonly fix: 'pushed_current_values';
}

export interface ReconcileReport {
  readonly customersChecked: number;
  readonly systemsChecked: string[];
  readonly systemsSkipped: string[];
  readonly drift: DriftFound[];
  readonly readFailures: number;
}

const PAGE_SIZE = 200;

/**
 * Compares every customer with every connected system that can be read back, and pushes Amend's current
 * values wherever they differ (an audited, ordered outbox message like any change). Systems that can only
 * acknowledge or be attested are listed as skipped.
 */
export async function reconcileConnectedSystems(
  deps: UseCaseContext & { readonly store: Store; readonly systems: ReadonlyMap<string, ConnectedSystem> },
  onProgress?: (customersChecked: number) => void,
): Promise<ReconcileReport> {
  const readable = [...deps.systems.values()].filter((system) => system.readBack);
  const heldBy = new Map(
    readable.map((system) => [
      system.id,
      (Object.keys(deps.policy.fields) as FieldName[]).filter((field) =>
        deps.policy.fields[field].connectedSystems.includes(system.id),
      ),
    ]),
  );
  const drift: DriftFound[] = [];
  let customersChecked = 0;
  let readFailures = 0;
  let after: string | undefined;
  do {
    const page = await deps.store.listCustomers({ limit: PAGE_SIZE, after });
    for (const customer of page.items) {
      for (const system of readable) {
        const fields = heldBy.get(system.id) ?? [];
        if (fields.length === 0) continue;
        const observed = await system.readBack!(customer.id);
        if (!observed.ok) {
          readFailures += 1;
          continue;
        }
        const expected = Object.fromEntries(fields.map((field) => [field, customer[field]]));
        const paths = driftedPaths(expected, observed.values);
        if (paths.length === 0) continue;
        const now = deps.clock.now().toISOString();
        await deps.store.transaction(async (tx) => {
          await tx.enqueueOutbox(
            [
              {
                kind: 'propagation',
                destination: system.id,
                customerId: customer.id,
                changeRequestId: null,
                sequence: customer.version,
                payload: {
                  changeId: `reconcile-${deps.ids.newId()}`,
                  customerId: customer.id,
                  sequence: customer.version,
                  fields: expected,
                  occurredAt: now,
                },
                deadlineAt: null,
              },
            ],
            now,
          );
          await tx.appendAudit([
            {
              chain: customer.id,
              occurredAt: now,
              actor: SYSTEM_ACTOR,
              action: 'propagation.reconciled',
              changeRequestId: null,
              details: { system: system.id, paths, fix: 'pushed_current_values' },
            },
          ]);
        });
        drift.push({ customerId: customer.id, system: system.id, paths, fix: 'pushed_current_values' });
      }
      customersChecked += 1;
    }
    onProgress?.(customersChecked);
    after = page.nextCursor ?? undefined;
  } while (after);
  return {
    customersChecked,
    systemsChecked: readable.map((system) => system.id),
    systemsSkipped: [...deps.systems.values()]
      .filter((system) => !system.readBack)
      .map((system) => system.id),
    drift,
    readFailures,
  };
}
