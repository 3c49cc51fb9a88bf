import type { Kysely, Selectable } from 'kysely';
import type { Customer } from '../core/customer-types.ts';
import { pageOf } from './page-fns.ts';
import { iso, json, parsed } from './row-fns.ts';
import type { CustomerTable, Database } from './schema-types.ts';

type Executor = Kysely<Database>;

export function customerFromRow(row: Selectable<CustomerTable>): Customer {
  return {
    id: row.id,
    version: row.version,
    legalName: row.legal_name,
    preferredName: row.preferred_name,
    email: row.email,
    phone: row.phone,
    postalAddress: parsed(row.postal_address),
    dateOfBirth: row.date_of_birth,
    communicationPreferences: parsed(row.communication_preferences),
    paymentMethod: parsed(row.payment_method),
    bankAccount: parsed(row.bank_account),
    freeze: parsed(row.security_hold) ?? null,
    confirmedAt: parsed(row.confirmed_at),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export function customerToRow(customer: Customer) {
  return {
    id: customer.id,
    version: customer.version,
    legal_name: customer.legalName,
    preferred_name: customer.preferredName,
    email: customer.email,
    phone: customer.phone,
    postal_address: customer.postalAddress ? json(customer.postalAddress) : null,
    date_of_birth: customer.dateOfBirth,
    communication_preferences: json(customer.communicationPreferences),
    payment_method: customer.paymentMethod ? json(customer.paymentMethod) : null,
    bank_account: customer.bankAccount ? json(customer.bankAccount) : null,
    confirmed_at: json(customer.confirmedAt),
    security_hold: customer.freeze ? json(customer.freeze) : null,
    created_at: customer.createdAt,
    updated_at: customer.updatedAt,
  };
}

export async function findCustomer(db: Executor, id: string): Promise<Customer | null> {
  const row = await db.selectFrom('customer').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? customerFromRow(row) : null;
}

/** Reads the customer and locks the row until the transaction ends: the version we read stays current. */
export async function lockCustomer(db: Executor, id: string): Promise<Customer | null> {
  const row = await db.selectFrom('customer').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? customerFromRow(row) : null;
}

/** Writes the customer if its stored version is still `expectedVersion`; false means someone else won. */
export async function updateCustomerIfVersion(
  db: Executor,
  customer: Customer,
  expectedVersion: number,
): Promise<boolean> {
  const { id: _id, created_at: _created, ...changes } = customerToRow(customer);
  const result = await db
    .updateTable('customer')
    .set(changes)
    .where('id', '=', customer.id)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function insertCustomers(db: Executor, customers: readonly Customer[]): Promise<void> {
  if (customers.length === 0) return;
  await db.insertInto('customer').values(customers.map(customerToRow)).execute();
}

export async function countCustomers(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('customer')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export interface CustomerPage {
  readonly customers: Customer[];
  readonly nextCursor: string | null;
}

/** Keyset paging by id: stable under concurrent inserts, constant cost per page. */
export async function listCustomers(
  db: Executor,
  options: { limit: number; after?: string | undefined; email?: string | undefined },
): Promise<CustomerPage> {
  let query = db
    .selectFrom('customer')
    .selectAll()
    .orderBy('id')
    .limit(options.limit + 1);
  if (options.after) query = query.where('id', '>', options.after);
  if (options.email)
    query = query.where((eb) => eb(eb.fn('lower', ['email']), '=', options.email!.toLowerCase()));
  const page = pageOf(await query.execute(), options.limit, customerFromRow, (row) => row.id);
  return { customers: page.items, nextCursor: page.nextCursor };
}

export async function customersWithContact(
  db: Executor,
  contact: { email?: string | undefined; phone?: string | undefined },
  exceptCustomerId: string,
): Promise<string[]> {
  if (!contact.email && !contact.phone) return [];
  const rows = await db
    .selectFrom('customer')
    .select('id')
    .where('id', '<>', exceptCustomerId)
    .where((eb) =>
      eb.or([
        ...(contact.email ? [eb(eb.fn('lower', ['email']), '=', contact.email.toLowerCase())] : []),
        ...(contact.phone ? [eb('phone', '=', contact.phone)] : []),
      ]),
    )
    .limit(10)
    .execute();
  return rows.map((row) => row.id);
}
