import { type ExpressionBuilder, type Kysely, type Selectable, sql } from 'kysely';
import type { EncodedNewCustomers, FieldCipher } from '../app/ports.ts';
import type { AuditEntryDraft, Sha256Hex } from '../core/audit-types.ts';
import type { Customer } from '../core/customer-types.ts';
import {
  AUDIT_CHAIN_HEAD_COLUMNS,
  AUDIT_ENTRY_INSERT_COLUMNS,
  encodeNewAuditChains,
  type HeldChainHeads,
} from './audit-repo.ts';
import type { AmendDatabase } from './database.ts';
import { pageOf } from './page-fns.ts';
import { anyUuid, copyText, iso, isoOrNull, json, parsed } from './row-fns.ts';
import type { CustomerTable, Database } from './schema-types.ts';

type Executor = Kysely<Database>;

/** The personal fields: sealed together in one value, never in clear columns once sealed. */
interface PersonalFields {
  legalName: string;
  preferredName: string | null;
  email: string | null;
  phone: string | null;
  postalAddress: Customer['postalAddress'];
  dateOfBirth: string | null;
  paymentMethod: Customer['paymentMethod'];
  bankAccount: Customer['bankAccount'];
}

function personalFieldsOf(row: Selectable<CustomerTable>, cipher: FieldCipher): PersonalFields {
  if (row.sealed !== null) return JSON.parse(cipher.open(row.sealed, row.id)) as PersonalFields;
  // Written before encryption at rest: clear until `amend keys rotate` seals it.
  return {
    legalName: row.legal_name ?? '',
    preferredName: row.preferred_name,
    email: row.email,
    phone: row.phone,
    postalAddress: parsed(row.postal_address),
    dateOfBirth: row.date_of_birth,
    paymentMethod: parsed(row.payment_method),
    bankAccount: parsed(row.bank_account),
  };
}

export function customerFromRow(row: Selectable<CustomerTable>, cipher: FieldCipher): Customer {
  return {
    id: row.id,
    version: row.version,
    ...personalFieldsOf(row, cipher),
    communicationPreferences: parsed(row.communication_preferences),
    freeze: parsed(row.security_hold) ?? null,
    confirmedAt: parsed(row.confirmed_at),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** Emails match case-insensitively, so their index is of the lowercased address; phones are already E.164. */
export const emailIndex = (cipher: FieldCipher, email: string) =>
  cipher.blindIndex('email', email.toLowerCase());

/** The personal fields sealed into one value, and the blind indexes that find the customer by email or phone. */
function sealedColumns(customer: Customer, cipher: FieldCipher) {
  const personal: PersonalFields = {
    legalName: customer.legalName,
    preferredName: customer.preferredName,
    email: customer.email,
    phone: customer.phone,
    postalAddress: customer.postalAddress,
    dateOfBirth: customer.dateOfBirth,
    paymentMethod: customer.paymentMethod,
    bankAccount: customer.bankAccount,
  };
  return {
    sealed: cipher.seal(JSON.stringify(personal), customer.id),
    key_id: cipher.currentKeyId,
    email_index: customer.email ? emailIndex(cipher, customer.email) : null,
    phone_index: customer.phone ? cipher.blindIndex('phone', customer.phone) : null,
  };
}

export function customerToRow(customer: Customer, cipher: FieldCipher) {
  return {
    id: customer.id,
    version: customer.version,
    legal_name: null,
    preferred_name: null,
    email: null,
    phone: null,
    postal_address: null,
    date_of_birth: null,
    payment_method: null,
    bank_account: null,
    ...sealedColumns(customer, cipher),
    communication_preferences: json(customer.communicationPreferences),
    confirmed_at: json(customer.confirmedAt),
    security_hold: customer.freeze ? json(customer.freeze) : null,
    created_at: customer.createdAt,
    updated_at: customer.updatedAt,
  };
}

export async function findCustomer(db: Executor, cipher: FieldCipher, id: string): Promise<Customer | null> {
  const row = await db.selectFrom('customer').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? customerFromRow(row, cipher) : null;
}

export async function findCustomers(
  db: Executor,
  cipher: FieldCipher,
  ids: readonly string[],
): Promise<Customer[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('customer').selectAll().where('id', '=', anyUuid(ids)).execute();
  return rows.map((row) => customerFromRow(row, cipher));
}

/**
 * Reads the customer and locks the row until the transaction ends: the version we read stays current. The
 * lock is FOR NO KEY UPDATE, not FOR UPDATE: it serialises changes to the customer but lets another
 * transaction write a row that merely references it (a worker's "this wasn't me" link or outbox row, whose
 * foreign-key check takes KEY SHARE). FOR UPDATE made that worker wait on the intake while holding the
 * customer's audit chain head, which the intake wanted next: a deadlock.
 */
export async function lockCustomer(db: Executor, cipher: FieldCipher, id: string): Promise<Customer | null> {
  const row = await db
    .selectFrom('customer')
    .selectAll()
    .where('id', '=', id)
    .forNoKeyUpdate()
    .executeTakeFirst();
  return row ? customerFromRow(row, cipher) : null;
}

/**
 * Locks the customer as `lockCustomer` does and, in the same round trip, answers until when failed identity
 * checks lock their changes (null if they are not locked now): every intake asks both.
 */
export async function lockCustomerForChange(
  db: Executor,
  cipher: FieldCipher,
  id: string,
  now: string,
  held: HeldChainHeads | undefined,
): Promise<{ customer: Customer; verificationLockedUntil: string | null } | null> {
  // The customer's audit chain head is locked in the same round trip, as the change's entries will need it: the
  // customer's row first (the head's condition reads it), as every intake always locked them.
  const row = await db
    .with(
      (cte) => cte('locked').materialized(),
      (qb) => qb.selectFrom('customer').selectAll().where('id', '=', id).forNoKeyUpdate(),
    )
    .with(
      (cte) => cte('head').materialized(),
      (qb) =>
        qb
          .selectFrom('audit_chain_head')
          .select(['chain', 'seq', 'hash'])
          .where('chain', '=', sql<string>`(SELECT id::text FROM locked)`)
          .forUpdate(),
    )
    .selectFrom('locked')
    .selectAll('locked')
    .select((eb) => [
      eb
        .selectFrom('verification_lock')
        .select('locked_until')
        .whereRef('verification_lock.customer_id', '=', 'locked.id')
        .where('verification_lock.locked_until', '>', new Date(now))
        .as('verification_locked_until'),
      eb.selectFrom('head').select('seq').as('head_seq'),
      eb.selectFrom('head').select('hash').as('head_hash'),
    ])
    .executeTakeFirst();
  if (!row) return null;
  const { verification_locked_until: lockedUntil, head_seq: seq, head_hash: hash, ...customer } = row;
  if (held && seq !== null && hash !== null) held.set(id, { chain: id, seq, hash });
  return { customer: customerFromRow(customer, cipher), verificationLockedUntil: isoOrNull(lockedUntil) };
}

/** The update of a customer still at `expectedVersion`, to run inside a larger statement (no row: someone else won). */
export function customerUpdateIfVersion(
  db: Executor,
  cipher: FieldCipher,
  customer: Customer,
  expectedVersion: number,
) {
  const { id: _id, created_at: _created, ...changes } = customerToRow(customer, cipher);
  return db
    .updateTable('customer')
    .set(changes)
    .where('id', '=', customer.id)
    .where('version', '=', expectedVersion);
}

/** The columns a new customer is written with, in COPY's order; its clear personal columns stay null. */
const NEW_CUSTOMER_COLUMNS = [
  'id',
  'version',
  'sealed',
  'key_id',
  'email_index',
  'phone_index',
  'communication_preferences',
  'confirmed_at',
  'security_hold',
  'created_at',
  'updated_at',
] as const;

const newCustomerRow = (customer: Customer, cipher: FieldCipher) => ({
  id: customer.id,
  version: customer.version,
  ...sealedColumns(customer, cipher),
  // Objects, not JSON text: in a JSON batch they become jsonb values, not jsonb strings; COPY writes them as JSON.
  communication_preferences: customer.communicationPreferences,
  confirmed_at: customer.confirmedAt,
  security_hold: customer.freeze ?? null,
  created_at: customer.createdAt,
  updated_at: customer.updatedAt,
});

export async function insertCustomers(
  db: Executor,
  cipher: FieldCipher,
  customers: readonly Customer[],
): Promise<void> {
  if (customers.length === 0) return;
  // One JSON parameter for the batch, not a parameter per value: a batch of a thousand customers was 19,000
  // parameters to bind on our side and to parse on the database's.
  const rows = JSON.stringify(customers.map((customer) => newCustomerRow(customer, cipher)));
  await sql`
    INSERT INTO customer (id, version, sealed, key_id, email_index, phone_index, communication_preferences,
      confirmed_at, security_hold, created_at, updated_at)
    SELECT id, version, sealed, key_id, email_index, phone_index, communication_preferences, confirmed_at,
      security_hold, created_at, updated_at
    FROM json_populate_recordset(NULL::customer, ${rows}::json)`.execute(db);
}

/**
 * New customers and the entries opening their audit chains, sealed, hashed and in COPY's text format, without
 * touching the database: the CPU half of registering them, which a bulk import does on worker threads.
 */
export function encodeNewCustomers(
  customers: readonly Customer[],
  openingEntries: readonly AuditEntryDraft[],
  cipher: FieldCipher,
  sha256: Sha256Hex,
): EncodedNewCustomers {
  const audit = encodeNewAuditChains(openingEntries, sha256, cipher);
  return {
    count: customers.length,
    customers: copyText(
      NEW_CUSTOMER_COLUMNS,
      customers.map((customer) => newCustomerRow(customer, cipher)),
    ),
    auditEntries: audit.entries,
    auditHeads: audit.heads,
  };
}

/** Writes what `encodeNewCustomers` made, customers and audit entries in one transaction. */
export async function writeEncodedNewCustomers(
  database: Pick<AmendDatabase, 'copyInTransaction'>,
  encoded: EncodedNewCustomers,
): Promise<void> {
  if (encoded.count === 0) return;
  await database.copyInTransaction([
    { table: 'customer', columns: NEW_CUSTOMER_COLUMNS, text: encoded.customers },
    { table: 'audit_entry', columns: AUDIT_ENTRY_INSERT_COLUMNS, text: encoded.auditEntries },
    { table: 'audit_chain_head', columns: AUDIT_CHAIN_HEAD_COLUMNS, text: encoded.auditHeads },
  ]);
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
  cipher: FieldCipher,
  options: {
    limit: number;
    after?: string | undefined;
    email?: string | undefined;
    phone?: string | undefined;
  },
): Promise<CustomerPage> {
  let query = db
    .selectFrom('customer')
    .selectAll()
    .orderBy('id')
    .limit(options.limit + 1);
  if (options.after) query = query.where('id', '>', options.after);
  if (options.email) query = query.where('email_index', '=', emailIndex(cipher, options.email));
  if (options.phone) query = query.where('phone_index', '=', cipher.blindIndex('phone', options.phone));
  const page = pageOf(
    await query.execute(),
    options.limit,
    (row) => customerFromRow(row, cipher),
    (row) => row.id,
  );
  return { customers: page.items, nextCursor: page.nextCursor };
}

export async function customersWithContact(
  db: Executor,
  cipher: FieldCipher,
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
        ...(contact.email ? [eb('email_index', '=', emailIndex(cipher, contact.email))] : []),
        ...(contact.phone ? [eb('phone_index', '=', cipher.blindIndex('phone', contact.phone))] : []),
      ]),
    )
    .limit(10)
    .execute();
  return rows.map((row) => row.id);
}

/** Customers whose personal fields are in clear or sealed under a key other than the current one. */
const notSealedUnderCurrentKey = (cipher: FieldCipher) => (eb: ExpressionBuilder<Database, 'customer'>) =>
  eb.or([eb('key_id', 'is', null), eb('key_id', '<>', cipher.currentKeyId)]);

/**
 * Seals, with the current key, up to `limit` customers after `after` (by id) whose personal fields are in clear
 * or under an older key: a pass walks the table once, where starting over at each batch read every row already
 * resealed again (quadratic in the table). One statement writes the batch, each row only if its version is
 * unchanged, so a change applied meanwhile is never overwritten; the row is left for the next pass. Answers how
 * many rows it looked at and the last one's id (null when the pass is over).
 */
export async function resealCustomers(
  db: Executor,
  cipher: FieldCipher,
  limit: number,
  after: string | null,
): Promise<{ examined: number; resealed: number; last: string | null }> {
  let query = db
    .selectFrom('customer')
    .selectAll()
    .where(notSealedUnderCurrentKey(cipher))
    .orderBy('id')
    .limit(limit);
  if (after !== null) query = query.where('id', '>', after);
  const rows = await query.execute();
  if (rows.length === 0) return { examined: 0, resealed: 0, last: null };
  const resealed = JSON.stringify(
    rows.map((row) => ({
      id: row.id,
      version: row.version,
      ...sealedColumns(customerFromRow(row, cipher), cipher),
    })),
  );
  const result = await sql`
    UPDATE customer AS c
    SET sealed = r.sealed, key_id = r.key_id, email_index = r.email_index, phone_index = r.phone_index,
      legal_name = NULL, preferred_name = NULL, email = NULL, phone = NULL, postal_address = NULL,
      date_of_birth = NULL, payment_method = NULL, bank_account = NULL
    FROM json_populate_recordset(NULL::customer, ${resealed}::json) AS r
    WHERE c.id = r.id AND c.version = r.version`.execute(db);
  return { examined: rows.length, resealed: Number(result.numAffectedRows ?? 0), last: rows.at(-1)!.id };
}

/** How many customers are not yet sealed with the current key. */
export async function countCustomersToReseal(db: Executor, cipher: FieldCipher): Promise<number> {
  const row = await db
    .selectFrom('customer')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where(notSealedUnderCurrentKey(cipher))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
