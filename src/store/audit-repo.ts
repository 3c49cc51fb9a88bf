import { type Kysely, type RawBuilder, type Selectable, sql } from 'kysely';
import type { FieldCipher } from '../app/ports.ts';
import { auditEntryDigestInput, chainEntries, GENESIS_HASH } from '../core/audit-chain-fns.ts';
import type {
  AuditCheckpoint,
  AuditEntry,
  AuditEntryDraft,
  AuditFault,
  AuditLogScan,
  ChainHead,
  Sha256Hex,
} from '../core/audit-types.ts';
import type { Actor } from '../core/change-request-types.ts';
import { groupedBy } from '../core/value-fns.ts';
import { migrationScript } from './migration-files.ts';
import { pageOf } from './page-fns.ts';
import { copyText, iso, json, parsed } from './row-fns.ts';
import type { AuditEntryTable, Database } from './schema-types.ts';
import { openJson, sealJson } from './sealed-json.ts';

type Executor = Kysely<Database>;

export interface StoredAuditEntry extends AuditEntry {
  readonly id: number;
}

/** An entry's own columns; the database numbers it (`id`) and keeps the text it was hashed from beside them. */
const AUDIT_ENTRY_VALUE_COLUMNS = [
  'chain',
  'seq',
  'occurred_at',
  'actor',
  'action',
  'change_request_id',
  'details',
  'prev_hash',
  'hash',
] as const;

/** The columns an entry is read from; its hashed text is for verification and stays in the database. */
export const AUDIT_ENTRY_COLUMNS = ['id', ...AUDIT_ENTRY_VALUE_COLUMNS] as const;

/** The columns an append writes, in COPY's order. */
export const AUDIT_ENTRY_INSERT_COLUMNS = [...AUDIT_ENTRY_VALUE_COLUMNS, 'hashed_json'] as const;
export const AUDIT_CHAIN_HEAD_COLUMNS = ['chain', 'seq', 'hash'] as const;

export function auditEntryFromRow(
  row: Pick<Selectable<AuditEntryTable>, (typeof AUDIT_ENTRY_COLUMNS)[number]>,
): StoredAuditEntry {
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
    openJson(cipher, value, entry.chain),
  ) as Record<string, unknown>;
}

export async function auditTrail(db: Executor, chain: string): Promise<StoredAuditEntry[]> {
  const rows = await db
    .selectFrom('audit_entry')
    .select(AUDIT_ENTRY_COLUMNS)
    .where('chain', '=', chain)
    .orderBy('seq')
    .execute();
  return rows.map(auditEntryFromRow);
}

export async function findAuditEntry(db: Executor, id: number): Promise<StoredAuditEntry | null> {
  const row = await db
    .selectFrom('audit_entry')
    .select(AUDIT_ENTRY_COLUMNS)
    .where('id', '=', String(id))
    .executeTakeFirst();
  return row ? auditEntryFromRow(row) : null;
}

/** Drafts grouped by chain, values to seal sealed, details as jsonb will store them (hashed as stored). */
function draftsByChain(
  drafts: readonly AuditEntryDraft[],
  cipher: FieldCipher,
): Map<string, AuditEntryDraft[]> {
  // jsonb drops undefined members; hash what will be stored, so verification recomputes the same bytes.
  const stored = drafts.map((draft) => ({
    ...draft,
    details: JSON.parse(
      JSON.stringify(draft.details, (_key, value) =>
        isToSeal(value) ? sealJson(cipher, value.$seal, draft.chain) : value,
      ),
    ) as Record<string, unknown>,
  }));
  return groupedBy(stored, (draft) => draft.chain);
}

/** Chains the drafts onto their heads: the entries, as rows to insert, and each chain's new head. */
function chainedRows(
  heads: readonly ChainHead[],
  byChain: ReadonlyMap<string, readonly AuditEntryDraft[]>,
  sha256: Sha256Hex,
) {
  const hashed = heads.flatMap((head) => chainEntries(head, byChain.get(head.chain) ?? [], sha256));
  const newHeads = [...new Map(hashed.map((entry) => [entry.chain, entry])).values()].map((entry) => ({
    chain: entry.chain,
    seq: entry.seq,
    hash: entry.hash,
  }));
  const rows = hashed.map((entry) => ({
    chain: entry.chain,
    seq: entry.seq,
    occurred_at: entry.occurredAt,
    actor: entry.actor,
    action: entry.action,
    change_request_id: entry.changeRequestId,
    details: entry.details,
    prev_hash: entry.prevHash,
    hash: entry.hash,
    hashed_json: entry.hashedJson,
  }));
  return { hashed, rows, newHeads };
}

/**
 * The first entries of chains nobody has written to, hashed, in COPY's text format, with their heads: the CPU
 * half of opening chains, which a bulk import does on worker threads.
 */
export function encodeNewAuditChains(
  drafts: readonly AuditEntryDraft[],
  sha256: Sha256Hex,
  cipher: FieldCipher,
): { readonly entries: string; readonly heads: string } {
  const byChain = draftsByChain(drafts, cipher);
  const heads = [...byChain.keys()].sort().map((chain) => ({ chain, seq: 0, hash: GENESIS_HASH }));
  const { rows, newHeads } = chainedRows(heads, byChain, sha256);
  return {
    entries: copyText(AUDIT_ENTRY_INSERT_COLUMNS, rows),
    heads: copyText(AUDIT_CHAIN_HEAD_COLUMNS, newHeads),
  };
}

type ChainedRow = ReturnType<typeof chainedRows>['rows'][number];

/** Inserts the entries, if `condition` holds. */
const entriesInsert = (rows: readonly ChainedRow[], condition: RawBuilder<unknown>) => sql`
  INSERT INTO audit_entry (chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash, hashed_json)
  SELECT chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash, hash, hashed_json
  FROM json_populate_recordset(NULL::audit_entry, ${JSON.stringify(rows)}::json)
  WHERE ${condition}
  RETURNING id`;

/**
 * Moves the chains' heads, if `condition` holds. The planner guesses 100 rows for json_populate_recordset and
 * so joined the heads by a sequential scan of every customer's head; `= ANY(names)` gives it the true count and
 * the index.
 */
const headsMove = (
  names: readonly string[],
  heads: readonly ChainHead[],
  condition: RawBuilder<unknown>,
) => sql`
  UPDATE audit_chain_head AS head SET seq = moved.seq, hash = moved.hash
  FROM json_populate_recordset(NULL::audit_chain_head, ${JSON.stringify(heads)}::json) AS moved
  WHERE head.chain = moved.chain AND head.chain = ANY(${names}::text[]) AND ${condition}`;

/**
 * Drafts to append within another writer's statement, as its last two CTEs (`auditEntries`, `auditHeads`), run
 * only if `condition` holds there: possible when the transaction holds the head of every chain they touch (it
 * locked them earlier), so nothing need be read first. Null otherwise. Call `appended` once the statement wrote
 * them, so later appends in the transaction build on them.
 */
export function appendWithin(
  drafts: readonly AuditEntryDraft[],
  sha256: Sha256Hex,
  cipher: FieldCipher,
  held: HeldChainHeads | undefined,
): { ctes(condition: RawBuilder<unknown>): RawBuilder<unknown>; appended(): void } | null {
  const names = [...new Set(drafts.map((draft) => draft.chain))].sort();
  const heads = names.map((chain) => held?.get(chain));
  // Decided before sealing: where the caller appends on its own, `appendAuditEntries` seals them.
  if (drafts.length === 0 || !heads.every((head) => head !== undefined)) return null;
  const { rows, newHeads } = chainedRows(heads as ChainHead[], draftsByChain(drafts, cipher), sha256);
  return {
    ctes: (condition) => sql`
      auditEntries AS (${entriesInsert(rows, condition)}),
      auditHeads AS (${headsMove(names, newHeads, condition)})`,
    appended: () => {
      for (const head of newHeads) held!.set(head.chain, head);
    },
  };
}

/**
 * The chain heads a transaction holds locked, as its own appends left them: a later append in the same
 * transaction builds on them without asking again. One per transaction, dropped with it.
 */
export type HeldChainHeads = Map<string, ChainHead>;

/**
 * Appends drafts to their chains inside the caller's transaction. Locks only the heads of the chains
 * touched (in chain order, so two writers cannot deadlock), never a global row; heads in `held` are locked
 * already, and every head this append moves is held from then on.
 */
export async function appendAuditEntries(
  db: Executor,
  drafts: readonly AuditEntryDraft[],
  sha256: Sha256Hex,
  cipher: FieldCipher,
  held: HeldChainHeads | undefined,
  chains: 'existing or new' | 'all new' = 'existing or new',
): Promise<AuditEntry[]> {
  if (drafts.length === 0) return [];
  const byChain = draftsByChain(drafts, cipher);
  const names = [...byChain.keys()].sort();
  const toLock = chains === 'all new' ? [] : names.filter((chain) => !held?.has(chain));
  // Sorted, so two transactions lock shared heads in the same order.
  const locked =
    toLock.length === 0
      ? []
      : (
          await sql<ChainHead>`
            INSERT INTO audit_chain_head (chain, seq, hash)
            SELECT chain, 0, ${GENESIS_HASH} FROM unnest(${toLock}::text[]) WITH ORDINALITY AS given (chain, n)
            ORDER BY n
            ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain
            RETURNING chain, seq, hash`.execute(db)
        ).rows;
  const lockedByChain = new Map(locked.map((head) => [head.chain, head]));
  const heads: ChainHead[] = names.map(
    (chain) => held?.get(chain) ?? lockedByChain.get(chain) ?? { chain, seq: 0, hash: GENESIS_HASH }, // 'all new'
  );
  const { hashed, rows, newHeads } = chainedRows(heads, byChain, sha256);
  // One round trip for the entries and their heads (a data-modifying CTE always runs to completion). New chains'
  // heads are written once, as they end; a key that exists already fails the transaction, as it should.
  await (chains === 'all new'
    ? sql`
        WITH inserted AS (${entriesInsert(rows, sql`true`)})
        INSERT INTO audit_chain_head (chain, seq, hash)
        SELECT chain, seq, hash FROM json_populate_recordset(NULL::audit_chain_head, ${JSON.stringify(newHeads)}::json)`
    : sql`
        WITH inserted AS (${entriesInsert(rows, sql`true`)})
        ${headsMove(names, newHeads, sql`true`)}`
  ).execute(db);
  for (const head of newHeads) held?.set(head.chain, head);
  return hashed.map(({ hashedJson: _, ...entry }) => entry);
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
    .select(AUDIT_ENTRY_COLUMNS)
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

/** The constraint of migration 0019, as PostgreSQL writes it back. */
const SAFEGUARD_DEFINITION =
  'CHECK (amend_audit_text_matches((hashed_json)::jsonb, chain, seq, occurred_at, actor, action, change_request_id, details, prev_hash))';
const SAFEGUARD_FUNCTION =
  'amend_audit_text_matches(jsonb, text, integer, timestamptz, jsonb, text, uuid, jsonb, text)';

/** The body of the constraint's function as migration 0019 creates it, from the migration itself. */
const safeguardFunctionSource = () =>
  /\$\$([\s\S]*?)\$\$/.exec(migrationScript('0019-audit-safeguard-parses-once'))![1];

/**
 * The constraint that binds each entry's columns to its hashed text, as the catalogue has it (if it is there):
 * whether it is validated, and whether it is as the migrations made it: the constraint, and the function it calls
 * with its body (migration 0019) and its one setting, search_path pinned to pg_catalog (0021), so that no session
 * resolves its operators elsewhere.
 */
async function auditSafeguard(
  db: Executor,
): Promise<{ readonly convalidated: boolean; readonly isAsMigrated: boolean } | undefined> {
  const { rows } = await sql<{ convalidated: boolean; is_as_migrated: boolean }>`
    SELECT c.convalidated, pg_get_constraintdef(c.oid) = ${SAFEGUARD_DEFINITION}
      AND coalesce((SELECT p.prosrc = ${safeguardFunctionSource()} AND p.proconfig = ARRAY['search_path=pg_catalog']
          AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
        FROM pg_proc p WHERE p.oid = to_regprocedure(${SAFEGUARD_FUNCTION})), false) AS is_as_migrated
    FROM pg_constraint c
    WHERE c.conrelid = 'audit_entry'::regclass AND c.conname = 'audit_entry_hashed_json_matches'`.execute(db);
  const [safeguard] = rows;
  return safeguard && { convalidated: safeguard.convalidated, isAsMigrated: safeguard.is_as_migrated };
}

const isHashWrong = sql<boolean>`(hashed_json IS NULL OR encode(sha256(convert_to(hashed_json, 'UTF8')), 'hex') <> hash)`;

/**
 * Checks the audit log inside the database, in the caller's snapshot (run it in one repeatable-read
 * transaction): every entry's hash over its stored text, in one parallel scan; every link, gap and chain head, in
 * one walk of the (chain, seq) index, which carries prev_hash and hash; every entry a checkpoint recorded. Node
 * receives counts and faults, never the entries, so the rate is the database's (see ARCHITECTURE.md "Audit log").
 */
export async function scanAuditLog(db: Executor, limit: number): Promise<AuditLogScan> {
  const checkpoints = await allCheckpoints(db);
  const safeguard = await auditSafeguard(db);
  const counts = await sql<{ entries: number; heads: number; mismatched: number }>`
    SELECT count(*)::int AS entries, count(*) FILTER (WHERE ${isHashWrong})::int AS mismatched,
      (SELECT count(*)::int FROM audit_chain_head) AS heads
    FROM audit_entry`.execute(db);
  const { entries, heads, mismatched } = counts.rows[0]!;
  const fault = (row: Partial<AuditFault> & Pick<AuditFault, 'kind' | 'chain'>): AuditFault => ({
    seq: null,
    entryId: null,
    expectedSeq: null,
    checkpoint: null,
    ...row,
  });

  const edited =
    mismatched === 0
      ? []
      : (
          await sql<{ id: string; chain: string; seq: number }>`
            SELECT id, chain, seq FROM audit_entry WHERE ${isHashWrong} ORDER BY chain, seq LIMIT ${limit}`.execute(
            db,
          )
        ).rows.map((row) =>
          fault({ kind: 'hash_mismatch', chain: row.chain, seq: row.seq, entryId: Number(row.id) }),
        );

  // Each entry beside the one before it in its chain, and each chain's last entry beside its recorded head.
  const walked = await sql<{
    chain: string;
    seq: number | null;
    kind: AuditFault['kind'];
    expected_seq: number | null;
  }>`
    SELECT coalesce(walk.chain, head.chain) AS chain, walk.seq,
      CASE WHEN walk.kind IS NOT NULL THEN walk.kind WHEN walk.chain IS NULL THEN 'chain_missing' ELSE 'head_mismatch' END AS kind,
      CASE WHEN walk.kind = 'gap' THEN walk.expected_seq ELSE head.seq END AS expected_seq
    FROM (
      SELECT chain, seq, hash, lead(seq) OVER w IS NULL AS is_last,
        coalesce(lag(seq) OVER w, 0) + 1 AS expected_seq,
        CASE WHEN seq <> coalesce(lag(seq) OVER w, 0) + 1 THEN 'gap'
             WHEN prev_hash <> coalesce(lag(hash) OVER w, ${GENESIS_HASH}) THEN 'link_broken' END AS kind
      FROM audit_entry WINDOW w AS (PARTITION BY chain ORDER BY seq)
    ) walk
    FULL JOIN audit_chain_head head ON head.chain = walk.chain
    WHERE walk.kind IS NOT NULL OR walk.chain IS NULL
      OR (walk.is_last AND (head.chain IS NULL OR head.seq <> walk.seq OR head.hash <> walk.hash))
    ORDER BY 1, 2 LIMIT ${limit}`.execute(db);

  // The latest record of each chain in any checkpoint, beside the entry it names.
  const recorded = await sql<{
    chain: string;
    seq: number;
    checkpoint: number;
    id: string | null;
    is_chain_gone: boolean;
  }>`
    SELECT r.chain, r.seq, r.checkpoint, e.id,
      e.id IS NULL AND NOT EXISTS (SELECT 1 FROM audit_entry x WHERE x.chain = r.chain) AS is_chain_gone
    FROM (
      SELECT DISTINCT ON (head.chain) head.chain, head.seq, head.hash, c.sequence AS checkpoint
      FROM audit_checkpoint c CROSS JOIN LATERAL jsonb_to_recordset(c.heads) AS head (chain text, seq integer, hash text)
      ORDER BY head.chain, c.sequence DESC
    ) r
    LEFT JOIN audit_entry e ON e.chain = r.chain AND e.seq = r.seq
    WHERE e.id IS NULL OR e.hash <> r.hash
    ORDER BY r.chain LIMIT ${limit}`.execute(db);

  const walkFaults = walked.rows.map((row) =>
    fault({ kind: row.kind, chain: row.chain, seq: row.seq, expectedSeq: row.expected_seq }),
  );
  const ids = await entryIds(
    db,
    walkFaults.filter((f) => f.seq !== null),
  );
  const faults = [
    ...edited,
    ...walkFaults.map((f) => ({ ...f, entryId: ids.get(`${f.chain} ${f.seq}`) ?? null })),
    ...recorded.rows.map((row) =>
      row.is_chain_gone
        ? fault({ kind: 'chain_missing', chain: row.chain, expectedSeq: row.seq, checkpoint: row.checkpoint })
        : fault({
            kind: row.id === null ? 'checkpoint_entry_missing' : 'checkpoint_hash_mismatch',
            chain: row.chain,
            seq: row.seq,
            entryId: row.id === null ? null : Number(row.id),
            checkpoint: row.checkpoint,
          }),
    ),
  ].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : (a.seq ?? 0) - (b.seq ?? 0)));
  return {
    checkpoints,
    entries,
    heads,
    isSafeguarded: safeguard?.convalidated === true && safeguard.isAsMigrated,
    faults: faults.slice(0, limit),
  };
}

async function entryIds(
  db: Executor,
  at: readonly Pick<AuditFault, 'chain' | 'seq'>[],
): Promise<Map<string, number>> {
  if (at.length === 0) return new Map();
  const { rows } = await sql<{ id: string; chain: string; seq: number }>`
    SELECT e.id, e.chain, e.seq FROM audit_entry e
    JOIN unnest(${at.map((f) => f.chain)}::text[], ${at.map((f) => f.seq)}::integer[]) AS f (chain, seq)
      ON e.chain = f.chain AND e.seq = f.seq`.execute(db);
  return new Map(rows.map((row) => [`${row.chain} ${row.seq}`, Number(row.id)]));
}

/**
 * Gives entries written before migration 0016 the text their hash covers, re-encoded from their columns, and then
 * validates the constraint that binds the two. An edited old entry gets the text of its edited columns, which
 * its hash then contradicts: tampering stays evident. Idempotent; `migrate` runs it under its lock.
 */
export async function backfillAuditHashedJson(db: Executor, batch = 5000): Promise<number> {
  // Once validated, the constraint itself forbids an entry without its text.
  if ((await auditSafeguard(db))?.convalidated !== false) return 0;
  let filled = 0;
  let after = '0';
  for (;;) {
    // Keyset by id: restarting each batch from the first id walked every entry already filled (quadratic).
    const rows = await db
      .selectFrom('audit_entry')
      .select(AUDIT_ENTRY_COLUMNS)
      .where('id', '>', after)
      .where('hashed_json', 'is', null)
      .orderBy('id')
      .limit(batch)
      .execute();
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    const texts = rows.map((row) => {
      const { id: _, hash: __, ...unhashed } = auditEntryFromRow(row);
      return auditEntryDigestInput(unhashed);
    });
    await sql`
      UPDATE audit_entry e SET hashed_json = f.text
      FROM unnest(${rows.map((row) => row.id)}::bigint[], ${texts}::text[]) AS f (id, text)
      WHERE e.id = f.id AND e.hashed_json IS NULL`.execute(db);
    filled += rows.length;
  }
  await sql`ALTER TABLE audit_entry VALIDATE CONSTRAINT audit_entry_hashed_json_matches`.execute(db);
  return filled;
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
