import { type Kysely, type Selectable, sql } from 'kysely';
import type { FieldCipher } from '../app/ports.ts';
import { chainEntries, GENESIS_HASH } from '../core/audit-chain-fns.ts';
import type {
  AuditCheckpoint,
  AuditEntry,
  AuditEntryDraft,
  ChainHead,
  Sha256Hex,
} from '../core/audit-types.ts';
import type { Actor } from '../core/change-request-types.ts';
import { pageOf } from './page-fns.ts';
import { iso, json, parsed } from './row-fns.ts';
import type { AuditEntryTable, Database } from './schema-types.ts';

type Executor = Kysely<Database>;

export interface StoredAuditEntry extends AuditEntry {
  readonly id: number;
}

export function auditEntryFromRow(row: Selectable<AuditEntryTable>): StoredAuditEntry {
  return {
    id: Number(row.id),
    chain: row.chain,
    seq: row.seq,
    occurredAt: iso(row.occurred_at),
    actor: parsed<Actor>(row.actor),
    action: row.action,
    changeRequestId: row.change_request_id,
    details: parsed(row.details),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

const isToSeal = (value: unknown): value is { $seal: unknown } =>
  typeof value === 'object' && value !== null && '$seal' in value;

/**
 * Opens the values an entry holds sealed (`{ $sealed }`, written for drafts' `{ $seal }`): for the audited
 * "read full values" action only. The chain binds each value to its customer.
 */
export function openSealedDetails(entry: AuditEntry, cipher: FieldCipher): Record<string, unknown> {
  return JSON.parse(JSON.stringify(entry.details), (_key, value) =>
    typeof value === 'object' && value !== null && typeof value.$sealed === 'string'
      ? JSON.parse(cipher.open(value.$sealed, entry.chain))
      : value,
  ) as Record<string, unknown>;
}

export async function auditTrail(db: Executor, chain: string): Promise<StoredAuditEntry[]> {
  const rows = await db
    .selectFrom('audit_entry')
    .selectAll()
    .where('chain', '=', chain)
    .orderBy('seq')
    .execute();
  return rows.map(auditEntryFromRow);
}

export async function findAuditEntry(db: Executor, id: number): Promise<StoredAuditEntry | null> {
  const row = await db.selectFrom('audit_entry').selectAll().where('id', '=', String(id)).executeTakeFirst();
  return row ? auditEntryFromRow(row) : null;
}

/**
 * Appends drafts to their chains inside the caller's transaction. Locks only the heads of the chains
 * touched (in chain order, so two writers cannot deadlock), never a global row.
 */
export async function appendAuditEntries(
  db: Executor,
  drafts: readonly AuditEntryDraft[],
  sha256: Sha256Hex,
  cipher: FieldCipher,
  chains: 'existing or new' | 'all new' = 'existing or new',
): Promise<AuditEntry[]> {
  if (drafts.length === 0) return [];
  const byChain = new Map<string, AuditEntryDraft[]>();
  for (const draft of drafts) {
    // jsonb drops undefined members; hash what will be stored, so verification recomputes the same bytes.
    const stored = {
      ...draft,
      details: JSON.parse(
        JSON.stringify(draft.details, (_key, value) =>
          isToSeal(value) ? { $sealed: cipher.seal(JSON.stringify(value.$seal), draft.chain) } : value,
        ),
      ) as Record<string, unknown>,
    };
    const chainDrafts = byChain.get(draft.chain);
    if (chainDrafts) chainDrafts.push(stored);
    else byChain.set(draft.chain, [stored]);
  }
  const names = [...byChain.keys()].sort();
  // Sorted, so two transactions lock shared heads in the same order.
  const heads: ChainHead[] =
    chains === 'all new'
      ? names.map((chain) => ({ chain, seq: 0, hash: GENESIS_HASH }))
      : (
          await sql<ChainHead>`
            INSERT INTO audit_chain_head (chain, seq, hash)
            SELECT chain, 0, ${GENESIS_HASH} FROM unnest(${names}::text[]) WITH ORDINALITY AS given (chain, n)
            ORDER BY n
            ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain
            RETURNING chain, seq, hash`.execute(db)
        ).rows;
  const entries = heads.flatMap((head) => chainEntries(head, byChain.get(head.chain) ?? [], sha256));
  const newHeads = [...new Map(entries.map((entry) => [entry.chain, entry])).values()];
  const rows = entries.map((entry) => ({
    chain: entry.chain,
    seq: entry.seq,
    occurred_at: entry.occurredAt,
    actor: entry.actor,
    action: entry.action,
    change_request_id: entry.changeRequestId,
    details: entry.details,
    prev_hash: entry.prevHash,
    hash: entry.hash,
  }));
  const inserted = sql`
    INSERT INTO audit_entry (chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash)
    SELECT chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash
    FROM json_populate_recordset(NULL::audit_entry, ${JSON.stringify(rows)}::json)
    RETURNING id`;
  const moved = JSON.stringify(newHeads.map((e) => ({ chain: e.chain, seq: e.seq, hash: e.hash })));
  // One round trip for the entries and their heads (a data-modifying CTE always runs to completion). New chains'
  // heads are written once, as they end; a key that exists already fails the transaction, as it should. The
  // planner guesses 100 rows for json_populate_recordset and so joined the heads by a sequential scan of every
  // customer's head; `= ANY(names)` gives it the true count and the index.
  await (chains === 'all new'
    ? sql`
        WITH inserted AS (${inserted})
        INSERT INTO audit_chain_head (chain, seq, hash)
        SELECT chain, seq, hash FROM json_populate_recordset(NULL::audit_chain_head, ${moved}::json)`
    : sql`
        WITH inserted AS (${inserted})
        UPDATE audit_chain_head AS head SET seq = moved.seq, hash = moved.hash
        FROM json_populate_recordset(NULL::audit_chain_head, ${moved}::json) AS moved
        WHERE head.chain = moved.chain AND head.chain = ANY(${names}::text[])`
  ).execute(db);
  return entries;
}

export interface AuditFilter {
  readonly chain?: string | undefined;
  readonly changeRequestId?: string | undefined;
  readonly action?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly limit: number;
  /** Keyset cursor: the id of the last entry of the previous page. */
  readonly after?: number | undefined;
}

export async function listAuditEntries(
  db: Executor,
  filter: AuditFilter,
): Promise<{ entries: StoredAuditEntry[]; nextCursor: number | null }> {
  let query = db
    .selectFrom('audit_entry')
    .selectAll()
    .orderBy('id')
    .limit(filter.limit + 1);
  if (filter.chain) query = query.where('chain', '=', filter.chain);
  if (filter.changeRequestId) query = query.where('change_request_id', '=', filter.changeRequestId);
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.from) query = query.where('occurred_at', '>=', new Date(filter.from));
  if (filter.to) query = query.where('occurred_at', '<', new Date(filter.to));
  if (filter.after !== undefined) query = query.where('id', '>', String(filter.after));
  const page = pageOf(await query.execute(), filter.limit, auditEntryFromRow, (row) => Number(row.id));
  return { entries: page.items, nextCursor: page.nextCursor };
}

/** Entries in (chain, seq) order after a keyset position, for a streaming verification pass. */
export async function auditEntriesInChainOrder(
  db: Executor,
  after: { chain: string; seq: number } | null,
  limit: number,
): Promise<StoredAuditEntry[]> {
  let query = db.selectFrom('audit_entry').selectAll().orderBy('chain').orderBy('seq').limit(limit);
  // A row comparison, which the (chain, seq) index answers as a range: the equivalent OR was a filter over the
  // index from its first entry, so each page read every entry before it (quadratic over a long log).
  if (after) query = query.where(sql<boolean>`(chain, seq) > (${after.chain}, ${after.seq}::integer)`);
  return (await query.execute()).map(auditEntryFromRow);
}

export async function allChainHeads(db: Executor): Promise<Map<string, ChainHead>> {
  const rows = await db.selectFrom('audit_chain_head').select(['chain', 'seq', 'hash']).execute();
  return new Map(rows.map((row) => [row.chain, row]));
}

export async function allCheckpoints(db: Executor): Promise<AuditCheckpoint[]> {
  const rows = await db.selectFrom('audit_checkpoint').selectAll().orderBy('sequence').execute();
  return rows.map((row) => ({
    sequence: row.sequence,
    createdAt: iso(row.created_at),
    previousSignature: row.previous_signature,
    heads: parsed(row.heads),
    keyId: row.key_id,
    signature: row.signature,
  }));
}

/** Serialises checkpoint writers without blocking appenders (they never touch this table). */
export async function lockCheckpoints(db: Executor): Promise<AuditCheckpoint | null> {
  await sql`LOCK TABLE audit_checkpoint IN EXCLUSIVE MODE`.execute(db);
  const row = await db
    .selectFrom('audit_checkpoint')
    .selectAll()
    .orderBy('sequence', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row
    ? {
        sequence: row.sequence,
        createdAt: iso(row.created_at),
        previousSignature: row.previous_signature,
        heads: parsed(row.heads),
        keyId: row.key_id,
        signature: row.signature,
      }
    : null;
}

/** Heads that moved since their last checkpoint. Heads being appended right now are skipped: the next checkpoint takes them. */
export async function movedChainHeads(db: Executor, limit: number): Promise<ChainHead[]> {
  const result = await sql<ChainHead>`
    SELECT chain, seq, hash FROM audit_chain_head WHERE seq > checkpointed_seq
    ORDER BY chain LIMIT ${limit} FOR UPDATE SKIP LOCKED`.execute(db);
  return result.rows;
}

export async function insertCheckpoint(db: Executor, checkpoint: AuditCheckpoint): Promise<void> {
  await db
    .insertInto('audit_checkpoint')
    .values({
      sequence: checkpoint.sequence,
      created_at: checkpoint.createdAt,
      previous_signature: checkpoint.previousSignature,
      heads: json(checkpoint.heads),
      key_id: checkpoint.keyId,
      signature: checkpoint.signature,
    })
    .execute();
  if (checkpoint.heads.length === 0) return;
  await sql`
    UPDATE audit_chain_head AS head SET checkpointed_seq = taken.seq
    FROM (VALUES ${sql.join(checkpoint.heads.map((h) => sql`(${h.chain}, ${h.seq}::integer)`))}) AS taken (chain, seq)
    WHERE head.chain = taken.chain`.execute(db);
}

export async function appliedChangeRequestIds(db: Executor, from: string, to: string): Promise<string[]> {
  const rows = await db
    .selectFrom('audit_entry')
    .select('change_request_id')
    .distinct()
    .where('action', '=', 'change_request.applied')
    .where('occurred_at', '>=', new Date(from))
    .where('occurred_at', '<', new Date(to))
    .execute();
  return rows.flatMap((row) => (row.change_request_id ? [row.change_request_id] : []));
}
