import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitChangeRequest } from '../src/app/submit-change-request.ts';
import { verifyAuditLog } from '../src/app/verify-audit-log.ts';
import { writeAuditCheckpoint } from '../src/app/write-audit-checkpoint.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { migrate } from '../src/store/migrate.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;
let customers: Customer[];
const integration = { kind: 'integration' as const, id: 'key-1', role: 'integration' as const };

const verify = () => verifyAuditLog({ store: app.store, signer: app.signer });
const checkpoint = () => writeAuditCheckpoint({ store: app.store, signer: app.signer, clock: app.clock });

async function changePreferredName(customer: Customer, value: string) {
  const result = await submitChangeRequest(
    app.deps,
    {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value }],
      channel: 'api',
      reason: null,
      isSubmissionConfirmed: true,
      requester: integration,
      source: { ip: '127.0.0.1', userAgent: 'test', apiKeyId: 'key-1' },
    },
    (request) => request,
  );
  if (!result.ok) throw new Error(result.error.message);
}

/**
 * Tampering needs the append-only triggers off, as a database owner with direct access could do; a forger may
 * also choose the session's search_path.
 */
async function tamper(statement: ReturnType<typeof sql>, searchPath?: string) {
  await app.database.db.transaction().execute(async (trx) => {
    if (searchPath) await sql`SELECT set_config('search_path', ${searchPath}, true)`.execute(trx);
    await sql`ALTER TABLE audit_entry DISABLE TRIGGER USER`.execute(trx);
    await statement.execute(trx);
    await sql`ALTER TABLE audit_entry ENABLE TRIGGER USER`.execute(trx);
  });
}

beforeAll(async () => {
  app = await createTestApp();
  customers = [];
  for (let i = 0; i < 4; i += 1) customers.push(await app.addCustomer());
  for (const [index, customer] of customers.entries()) {
    await changePreferredName(customer, `Name ${'ABCD'[index]} First`);
    await changePreferredName(customer, `Name ${'ABCD'[index]} Second`);
  }
});
afterAll(() => app.close());

describe('audit log', () => {
  it('verifies an untouched log, with signed checkpoints', async () => {
    const written = await checkpoint();
    expect(written).toHaveLength(1);
    expect(written[0]?.heads).toHaveLength(customers.length);
    await changePreferredName(customers[0]!, 'After Checkpoint');
    expect(await checkpoint()).toHaveLength(1);
    expect(await checkpoint()).toHaveLength(0);
    const report = await verify();
    expect(report).toMatchObject({
      isIntact: true,
      chainsChecked: customers.length,
      checkpointsChecked: 2,
      firstBroken: null,
    });
    expect(report.entriesChecked).toBeGreaterThan(customers.length * 10);
  });

  it('answers a time window with exactly its entries, from inclusive and to exclusive, page by page', async () => {
    // Migration 0022 answers windows from a BRIN index, a lossy one: PostgreSQL must recheck every row.
    const hours = ['2027-03-01T10:00:00.000Z', '2027-03-01T11:00:00.000Z', '2027-03-01T12:00:00.000Z'];
    for (const [index, hour] of hours.entries()) {
      app.clock.set(hour);
      await changePreferredName(customers[index]!, `Window ${'ABC'[index]}`);
    }
    const window = { from: hours[1], to: hours[2] };
    const entries = [];
    let after: number | undefined;
    do {
      const page = await app.store.listAudit({ ...window, limit: 2, after });
      entries.push(...page.entries);
      after = page.nextCursor ?? undefined;
    } while (after !== undefined);
    expect(entries.length).toBeGreaterThan(2);
    expect(new Set(entries.map((entry) => entry.occurredAt))).toEqual(new Set([hours[1]]));
    expect(new Set(entries.map((entry) => entry.chain))).toEqual(new Set([customers[1]!.id]));
    expect(entries.map((entry) => entry.id)).toEqual(entries.map((entry) => entry.id).sort((a, b) => a - b));
  });

  it('is append-only on the database itself (entries and checkpoints)', async () => {
    for (const statement of [
      sql`UPDATE audit_entry SET action = 'forged'`,
      sql`DELETE FROM audit_entry`,
      sql`TRUNCATE audit_entry`,
      sql`DELETE FROM audit_checkpoint`,
    ]) {
      await expect(statement.execute(app.database.db)).rejects.toThrow(/append-only/);
    }
  });

  it('opens a new chain at its first entry, and refuses to reopen one that exists, writing nothing', async () => {
    const draft = (chain: string) => ({
      chain,
      occurredAt: app.clock.now().toISOString(),
      actor: { kind: 'system' as const, id: 'test', role: null },
      action: 'customer.created',
      changeRequestId: null,
      details: { source: 'test' },
    });
    const fresh = '00000000-0000-7000-8000-00000000c0de';
    const [opened] = await app.store.openAuditChains([draft(fresh)]);
    expect(opened).toMatchObject({ chain: fresh, seq: 1 });
    const trail = () =>
      sql`SELECT count(*)::int AS n FROM audit_entry WHERE chain IN (${fresh}, ${customers[0]!.id})`;
    const before = (await trail().execute(app.database.db)).rows;
    await expect(
      app.store.transaction((tx) => tx.openAuditChains([draft(customers[0]!.id), draft(fresh)])),
    ).rejects.toThrow();
    expect((await trail().execute(app.database.db)).rows).toEqual(before);
    expect((await verify()).isIntact).toBe(true);
  });

  it('fills in the hashed text of entries written before it was kept, and an entry edited before then stays evident', async () => {
    const [, , , edited] = [...customers].sort((a, b) => (a.id < b.id ? -1 : 1));
    const safeguard = sql<{ definition: string }>`
      SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conname = 'audit_entry_hashed_json_matches'`;
    const [{ definition }] = (await safeguard.execute(app.database.db)).rows as [{ definition: string }];
    const original = sql<{ details: string; hashed_json: string }>`
      SELECT details::text AS details, hashed_json FROM audit_entry WHERE chain = ${edited!.id} AND seq = 1`;
    const [before] = (await original.execute(app.database.db)).rows;
    // The log as migration 0016 finds it: no hashed text, the constraint not yet validated.
    await tamper(sql`ALTER TABLE audit_entry DROP CONSTRAINT audit_entry_hashed_json_matches`);
    await tamper(sql`UPDATE audit_entry SET hashed_json = NULL`);
    await tamper(
      sql`UPDATE audit_entry SET details = jsonb_set(details, '{source}', '"forged-before"') WHERE chain = ${edited!.id} AND seq = 1`,
    );
    await tamper(
      sql.raw(
        `ALTER TABLE audit_entry ADD CONSTRAINT audit_entry_hashed_json_matches ${definition} NOT VALID`,
      ),
    );
    expect((await verify()).problems.map((p) => p.kind)).toContain('safeguard_missing');

    const entries = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_entry`.execute(
      app.database.db,
    );
    await expect(migrate(app.database)).resolves.toMatchObject({ auditTextsFilled: entries.rows[0]?.n });
    const { rows } = await sql<{ missing: number }>`
      SELECT count(*)::int AS missing FROM audit_entry WHERE hashed_json IS NULL`.execute(app.database.db);
    expect(rows[0]?.missing).toBe(0);
    const report = await verify();
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'hash_mismatch', chain: edited!.id, seq: 1 }),
    ]);
    await expect(migrate(app.database)).resolves.toMatchObject({ applied: [], auditTextsFilled: 0 });

    // Put the edited entry back as it was, to leave an intact log to the next test.
    await tamper(sql`UPDATE audit_entry SET details = ${before!.details}::jsonb, hashed_json = ${before!.hashed_json}
      WHERE chain = ${edited!.id} AND seq = 1`);
    expect(await verify()).toMatchObject({ isIntact: true });
  });

  it('binds the columns to the hashed text exactly as the constraint of migration 0016 did', async () => {
    // Migration 0019 moved the rule into a function that parses the text once. For each way to make the text
    // and the columns disagree (or agree), the function and the old expression must give the same answer.
    const old = `coalesce(hashed IS NOT NULL AND (hashed - 'occurredAt') = jsonb_build_object('chain', chain,
      'seq', seq, 'prevHash', prev_hash, 'actor', actor, 'action', action, 'changeRequestId', change_request_id,
      'details', details) AND (hashed ->> 'occurredAt')::timestamptz = occurred_at, false)`;
    const variants = [
      'hashed',
      'NULL',
      "hashed - 'chain'",
      "hashed - 'occurredAt'",
      'hashed || \'{"extra": 1}\'',
      "jsonb_set(hashed, '{seq}', to_jsonb((hashed ->> 'seq')::int + 1))",
      "jsonb_set(hashed, '{seq}', to_jsonb(hashed ->> 'seq'))",
      "jsonb_set(hashed, '{seq}', to_jsonb((hashed ->> 'seq')::numeric + 0.0))",
      "jsonb_set(hashed, '{chain}', '\"00000000-0000-7000-8000-000000000000\"')",
      "jsonb_set(hashed, '{prevHash}', to_jsonb(upper(hashed ->> 'prevHash')))",
      "jsonb_set(hashed, '{actor,id}', '\"someone-else\"')",
      "jsonb_set(hashed, '{actor}', '\"system\"')",
      "jsonb_set(hashed, '{action}', '\"customer.deleted\"')",
      "jsonb_set(hashed, '{changeRequestId}', 'null')",
      "jsonb_set(hashed, '{changeRequestId}', '\"00000000-0000-7000-8000-000000000000\"')",
      "hashed - 'changeRequestId'",
      "jsonb_set(hashed, '{details}', '{}')",
      "jsonb_set(hashed, '{details,forged}', 'true')",
      "jsonb_set(hashed, '{occurredAt}', to_jsonb(occurred_at + interval '1 millisecond'))",
      "jsonb_set(hashed, '{occurredAt}', to_jsonb(occurred_at))",
      'jsonb_build_array(hashed)',
    ];
    const { rows } = await sql<{ variant: number; old: boolean; now: boolean }>`
      SELECT variant, ${sql.raw(old)} AS old,
        amend_audit_text_matches(hashed, chain, seq, occurred_at, actor, action, change_request_id, details,
          prev_hash) AS now
      FROM (SELECT v.variant, v.hashed, e.chain, e.seq, e.occurred_at, e.actor, e.action, e.change_request_id,
          e.details, e.prev_hash
        FROM (SELECT * FROM audit_entry WHERE change_request_id IS NOT NULL ORDER BY id LIMIT 1) e,
          LATERAL (SELECT e.hashed_json::jsonb AS hashed) h,
          LATERAL (VALUES ${sql.raw(variants.map((variant, i) => `(${i}, ${variant})`).join(', '))})
            AS v (variant, hashed)) cases
      ORDER BY variant`.execute(app.database.db);
    expect(rows).toHaveLength(variants.length);
    for (const row of rows)
      expect({ variant: variants[row.variant], now: row.now }).toEqual({
        variant: variants[row.variant],
        now: row.old,
      });
    expect(rows.filter((row) => row.now).map((row) => variants[row.variant])).toEqual([
      'hashed',
      "jsonb_set(hashed, '{seq}', to_jsonb((hashed ->> 'seq')::numeric + 0.0))",
      "jsonb_set(hashed, '{occurredAt}', to_jsonb(occurred_at))",
    ]);
  });

  it('reports the constraint as missing when its function is replaced or given settings', async () => {
    const signature =
      'amend_audit_text_matches(jsonb, text, integer, timestamptz, jsonb, text, uuid, jsonb, text)';
    const safeguard = sql.raw(signature);
    const definition = sql<{ definition: string }>`
      SELECT pg_get_functiondef(${signature}::regprocedure) AS definition`;
    const [{ definition: original }] = (await definition.execute(app.database.db)).rows as [
      { definition: string },
    ];
    for (const forgery of [
      sql`CREATE OR REPLACE FUNCTION amend_audit_text_matches(hashed jsonb, chain text, seq integer,
        occurred_at timestamptz, actor jsonb, action text, change_request_id uuid, details jsonb, prev_hash text)
        RETURNS boolean LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN true; END $$`,
      sql`ALTER FUNCTION ${safeguard} SET search_path = public, pg_catalog`,
      sql`ALTER FUNCTION ${safeguard} RESET ALL`,
    ]) {
      await forgery.execute(app.database.db);
      expect((await verify()).problems.map((p) => p.kind)).toEqual(['safeguard_missing']);
      await sql.raw(original).execute(app.database.db); // the whole definition, its setting included
      expect(await verify()).toMatchObject({ isIntact: true });
    }
  });

  it('holds in a session whose search_path puts an always-true jsonb equality before pg_catalog', async () => {
    const [edited] = [...customers].sort((a, b) => (a.id < b.id ? -1 : 1));
    await sql`CREATE SCHEMA IF NOT EXISTS forger`.execute(app.database.db);
    await sql`CREATE OR REPLACE FUNCTION forger.always(jsonb, jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE
      AS 'SELECT true'`.execute(app.database.db);
    await sql`CREATE OPERATOR forger.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = forger.always)`.execute(
      app.database.db,
    );
    try {
      await expect(
        tamper(
          sql`UPDATE audit_entry SET details = '{"forged": true}' WHERE chain = ${edited!.id} AND seq = 2`,
          'forger, pg_catalog, public',
        ),
      ).rejects.toThrow(/audit_entry_hashed_json_matches/);
    } finally {
      await sql`DROP SCHEMA forger CASCADE`.execute(app.database.db);
    }
    expect(await verify()).toMatchObject({ isIntact: true });
  });

  it('names the first edited entry, a removed entry and a deleted chain', async () => {
    const [edited, removedFrom, deleted] = [...customers].sort((a, b) => (a.id < b.id ? -1 : 1));
    // Editing the columns alone breaks the constraint that binds them to the hashed text: a forger edits both.
    await expect(
      tamper(sql`UPDATE audit_entry SET details = '{}' WHERE chain = ${edited!.id} AND seq = 3`),
    ).rejects.toThrow(/audit_entry_hashed_json_matches/);
    await tamper(
      sql`UPDATE audit_entry SET details = jsonb_set(details, '{tier}', '"basic-forged"'),
            hashed_json = jsonb_set(hashed_json::jsonb, '{details,tier}', '"basic-forged"')::text
          WHERE chain = ${edited!.id} AND seq = 3`,
    );
    await tamper(sql`DELETE FROM audit_entry WHERE chain = ${removedFrom!.id} AND seq = 2`);
    await tamper(sql`DELETE FROM audit_entry WHERE chain = ${deleted!.id}`);
    await sql`DELETE FROM audit_chain_head WHERE chain = ${deleted!.id}`.execute(app.database.db);

    const report = await verify();
    expect(report.isIntact).toBe(false);
    expect(report.firstBroken).toMatchObject({ kind: 'hash_mismatch', chain: edited!.id, seq: 3 });
    expect(report.firstBroken?.entryId).toEqual(expect.any(Number));
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'gap', chain: removedFrom!.id, seq: 3 }),
        expect.objectContaining({ kind: 'chain_missing', chain: deleted!.id }),
      ]),
    );
  });

  it('reports a log whose safeguard was dropped to edit entries behind their hashes', async () => {
    const [, , , forged] = [...customers].sort((a, b) => (a.id < b.id ? -1 : 1));
    await tamper(sql`ALTER TABLE audit_entry DROP CONSTRAINT audit_entry_hashed_json_matches`);
    await tamper(
      sql`UPDATE audit_entry SET details = '{"forged": true}' WHERE chain = ${forged!.id} AND seq = 2`,
    );
    const report = await verify();
    expect(report.isIntact).toBe(false);
    expect(report.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'safeguard_missing' })]),
    );
    expect(report.problems.some((p) => p.chain === forged!.id)).toBe(false); // its hashed text still verifies
  });
});
