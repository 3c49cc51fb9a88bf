import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../src/adapters/audit-signer.ts';
import { addDataKey, createFieldCipher, createFileFieldCipher } from '../src/adapters/field-cipher.ts';
import type { SealedRecords } from '../src/app/ports.ts';
import { resealAll, SEALED_RECORDS } from '../src/app/rotate-data-keys.ts';
import { verifyAuditLog } from '../src/app/verify-audit-log.ts';
import { CHANGE_REQUEST_PARTS } from '../src/store/change-request-repo.ts';
import { isSealedJson } from '../src/store/sealed-json.ts';
import { createStore } from '../src/store/store.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

const keyDir = mkdtempSync(join(tmpdir(), 'amend-keys-'));
const keyFile = join(keyDir, 'data-keys.json');
let app: TestApp;

beforeAll(async () => {
  // A real keys file, so rotation goes through the same path as `amend keys rotate`.
  app = await createTestApp({ cipher: createFileFieldCipher(keyFile) });
});
afterAll(async () => {
  await app.close();
  rmSync(keyDir, { recursive: true, force: true });
});

/**
 * Until this process seals with `keyId`: running processes look at the keys file at most every two seconds, so
 * waiting for the key itself, not for a fixed two seconds, holds however late the machine runs a timer.
 */
const untilSealingWith = (keyId: string) =>
  vi.waitFor(() => expect(app.cipher.currentKeyId).toBe(keyId), { timeout: 10_000, interval: 100 });

const rawCustomer = async (id: string) =>
  (
    await sql<{ row: string; key_id: string | null; sealed: string | null }>`
      SELECT row_to_json(customer)::text AS row, key_id, sealed FROM customer WHERE id = ${id}`.execute(
      app.database.db,
    )
  ).rows[0]!;

describe('personal data at rest', () => {
  it('stores no personal value in clear, and finds customers by email through a blind index', async () => {
    const customer = await app.addCustomer({
      legalName: 'Quentin Zyzzyva',
      email: 'Quentin.Zyzzyva@Example.com',
      phone: '+61412555777',
    });
    const raw = await rawCustomer(customer.id);
    for (const value of ['Zyzzyva', 'zyzzyva@example.com', 'Quentin.Zyzzyva', '412555777'])
      expect(raw.row.toLowerCase()).not.toContain(value.toLowerCase());
    expect(raw.sealed).toMatch(/^v1\.k1\./);
    expect(raw.key_id).toBe('k1');
    expect((await app.store.findCustomer(customer.id))?.legalName).toBe('Quentin Zyzzyva');

    const representative = await app.addStaff('representative');
    const found = await app.call(
      representative.apiKey,
      'GET',
      '/api/v1/customers?email=QUENTIN.zyzzyva@example.com',
    );
    expect(found.json().items.map((item: { id: string }) => item.id)).toEqual([customer.id]);
    // Search results mask sensitive and legal values; the full record is one audited read away.
    expect(found.json().items[0].legalName).toBe('Q*** Z***');
    expect(found.json().items[0].email).toMatch(/^Q\*\*\*@example\.com$/i);
    const full = await app.call(representative.apiKey, 'GET', `/api/v1/customers/${customer.id}`);
    expect(full.json().email.toLowerCase()).toBe('quentin.zyzzyva@example.com');
    const viewed = await app.store.listAudit({ chain: customer.id, action: 'customer.viewed', limit: 5 });
    expect(viewed.entries).toHaveLength(1);
    expect(viewed.entries[0]!.actor).toMatchObject({ kind: 'staff', id: representative.id });
  });

  it('binds each sealed value to its row: copied onto another customer it does not open', async () => {
    const a = await app.addCustomer({ legalName: 'Row Owner' });
    const b = await app.addCustomer({ legalName: 'Other Row' });
    await sql`UPDATE customer SET sealed = (SELECT sealed FROM customer WHERE id = ${a.id}) WHERE id = ${b.id}`.execute(
      app.database.db,
    );
    await expect(app.store.findCustomer(b.id)).rejects.toThrow();
    expect((await app.store.findCustomer(a.id))?.legalName).toBe('Row Owner');
    await sql`DELETE FROM customer WHERE id = ${b.id}`.execute(app.database.db);
  });

  it('keeps sensitive values in audit entries sealed; an auditor can open them, and that read is audited', async () => {
    const customer = await app.addCustomer({ email: 'before.audit@example.com' });
    const representative = await app.addStaff('representative');
    const submitted = await app.call(representative.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'email', value: 'after.audit@example.com' }],
      confirmSubmittedValues: true,
    });
    expect(submitted.statusCode).toBe(201);
    const received = (
      await app.store.listAudit({ chain: customer.id, action: 'change_request.received', limit: 5 })
    ).entries[0]!;
    const stored = await sql<{ details: string }>`
      SELECT details::text AS details FROM audit_entry WHERE id = ${String(received.id)}`.execute(
      app.database.db,
    );
    expect(stored.rows[0]!.details).not.toContain('after.audit@example.com');
    expect(stored.rows[0]!.details).toContain('$sealed');
    expect(JSON.stringify(received.details)).toContain('a***@example.com');

    const manager = await app.addStaff('manager');
    expect((await app.call(manager.apiKey, 'GET', `/api/v1/audit/${received.id}/values`)).statusCode).toBe(
      403,
    );
    const auditor = await app.addStaff('auditor');
    const opened = await app.call(auditor.apiKey, 'GET', `/api/v1/audit/${received.id}/values`);
    expect(opened.statusCode).toBe(200);
    expect(JSON.stringify(opened.json().values)).toContain('after.audit@example.com');
    const reads = await app.store.listAudit({ chain: customer.id, action: 'audit.values_read', limit: 5 });
    expect(reads.entries[0]).toMatchObject({ actor: { id: auditor.id }, details: { entryId: received.id } });
    expect((await app.call(auditor.apiKey, 'GET', '/api/v1/audit/999999999/values')).json().code).toBe(
      'AUDIT.ENTRY_NOT_FOUND',
    );
    // Sealing happens before hashing: the chain still verifies.
    const verification = await verifyAuditLog({ store: app.store, signer: app.signer });
    expect(verification.firstBroken).toBeNull();
    expect(verification.isIntact).toBe(true);
  });

  it('re-encrypts a batch at a time from where the last batch stopped, so a pass reads the table once', async () => {
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => app.addCustomer({ legalName: `Batch Person ${'ABCDEF'[i]}` })),
    );
    await untilSealingWith(addDataKey(keyFile).keyId);
    const toReseal = await app.store.countRecordsToReseal('customer');
    expect(toReseal).toBeGreaterThanOrEqual(6);
    const first = await app.store.resealRecords('customer', 2, null);
    const second = await app.store.resealRecords('customer', 2, first.last);
    expect(first).toMatchObject({ examined: 2, resealed: 2 });
    expect(second).toMatchObject({ examined: 2, resealed: 2 });
    expect(second.last! > first.last!).toBe(true);
    expect(await app.store.countRecordsToReseal('customer')).toBe(toReseal - 4);
    // Past the last customer the pass is over, though customers before the cursor are still to reseal.
    const end = await app.store.resealRecords('customer', 2, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
    expect(end).toEqual({ examined: 0, resealed: 0, last: null });
    expect(await resealAll(app.store, 'customer', () => {})).toEqual({
      resealed: toReseal - 4,
      remaining: 0,
    });

    // With every row under the current key (each process's start), the check is one count and no walk.
    const reads: string[] = [];
    const counted = {
      countRecordsToReseal: (records: SealedRecords) => {
        reads.push('count');
        return app.store.countRecordsToReseal(records);
      },
      resealRecords: (records: SealedRecords, limit: number, after: string | null) => {
        reads.push('batch');
        return app.store.resealRecords(records, limit, after);
      },
    };
    expect(await resealAll(counted, 'customer', () => {})).toEqual({ resealed: 0, remaining: 0 });
    expect(reads).toEqual(['count']);
  });

  it('rotates keys while changes keep arriving: every row ends under the new key, no change is lost', async () => {
    const customers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        app.addCustomer({
          legalName: `Rotation Person ${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`,
        }),
      ),
    );
    const integration = await app.addIntegration();
    const before = JSON.parse(readFileSync(keyFile, 'utf8')) as { current: string };
    const added = addDataKey(keyFile);
    expect(added.previous).toBe(before.current);
    await untilSealingWith(added.keyId);

    const changes = customers.slice(0, 15).map((customer, i) =>
      app.call(integration.apiKey, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'preferredName', value: `Rotated ${String.fromCharCode(65 + i)}` }],
        confirmSubmittedValues: true,
      }),
    );
    const [outcome, ...responses] = await Promise.all([
      resealAll(app.store, 'customer', () => {}),
      ...changes,
    ]);
    expect(responses.every((response) => response.statusCode === 201)).toBe(true);
    expect(outcome.remaining).toBe(0);
    expect(await app.store.countRecordsToReseal('customer')).toBe(0);
    const keyIds = await sql<{ key_id: string; count: number }>`
      SELECT key_id, count(*)::int AS count FROM customer GROUP BY key_id`.execute(app.database.db);
    expect(keyIds.rows.map((row) => row.key_id)).toEqual([added.keyId]);
    for (const [i, customer] of customers.slice(0, 15).entries())
      expect((await app.store.findCustomer(customer.id))?.preferredName).toBe(
        `Rotated ${String.fromCharCode(65 + i)}`,
      );
    expect((await app.store.findCustomer(customers[20]!.id))?.legalName).toBe('Rotation Person Ua');
  });

  it('opens values sealed under a key another process just added, without waiting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amend-keys-'));
    const file = join(dir, 'data-keys.json');
    const reader = createFileFieldCipher(file);
    addDataKey(file);
    const writer = createFileFieldCipher(file);
    const sealed = writer.seal('hello', 'owner-1');
    expect(writer.keyIdOf(sealed)).toBe('k2');
    expect(reader.open(sealed, 'owner-1')).toBe('hello');
    rmSync(dir, { recursive: true, force: true });
  });

  it('seals rows written before encryption at rest', async () => {
    const id = '0193f000-0000-7000-8000-00000000abcd';
    const now = new Date().toISOString();
    await sql`
      INSERT INTO customer (id, version, legal_name, email, phone, communication_preferences, confirmed_at, created_at, updated_at)
      VALUES (${id}, 1, 'Legacy Clear', 'legacy.clear@example.com', '+61400000001', ${JSON.stringify({})}::jsonb,
              ${JSON.stringify({})}::jsonb, ${now}, ${now})`.execute(app.database.db);
    expect(await app.store.countRecordsToReseal('customer')).toBe(1);
    expect((await app.store.findCustomer(id))?.email).toBe('legacy.clear@example.com');
    await resealAll(app.store, 'customer', () => {});
    const raw = await rawCustomer(id);
    expect(raw.row).not.toContain('Legacy');
    expect(raw.row).not.toContain('legacy.clear');
    const found = await app.store.listCustomers({ email: 'Legacy.Clear@example.com', limit: 5 });
    expect(found.items.map((customer) => customer.legalName)).toEqual(['Legacy Clear']);
  });

  it('reads requests, deliveries and stored responses written before their values were sealed', async () => {
    const customer = await app.addCustomer();
    const representative = await app.addStaff('representative');
    const created = (
      await app.call(
        representative.apiKey,
        'POST',
        '/api/v1/change-requests',
        {
          customerId: customer.id,
          changes: [{ field: 'phone', value: '+61412000999' }],
          reason: 'New phone',
        },
        { 'idempotency-key': 'before-sealing' },
      )
    ).json();
    const request = (await app.store.findChangeRequest(created.id))!;
    const raw = async () =>
      (
        await sql<{ body: string; response: string }>`
          SELECT r.body::text AS body, i.response_body::text AS response
          FROM change_request AS r, idempotency_key AS i
          WHERE r.id = ${created.id} AND i.key = 'before-sealing'`.execute(app.database.db)
      ).rows[0]!;
    expect((await raw()).body).not.toContain('412000999');
    expect((await raw()).response).not.toContain('412000999');
    // As an earlier version stored them: the request whole and the response as sent, in clear.
    await sql`UPDATE change_request SET body = ${JSON.stringify(request)}::jsonb WHERE id = ${created.id}`.execute(
      app.database.db,
    );
    await sql`UPDATE idempotency_key SET response_body = ${JSON.stringify(created)}::jsonb
      WHERE key = 'before-sealing'`.execute(app.database.db);
    expect((await raw()).body).toContain('412000999');
    expect(await app.store.findChangeRequest(created.id)).toEqual(request);
    const replayed = await app.call(
      representative.apiKey,
      'POST',
      '/api/v1/change-requests',
      { customerId: customer.id, changes: [{ field: 'phone', value: '+61412000999' }], reason: 'New phone' },
      { 'idempotency-key': 'before-sealing' },
    );
    expect(replayed.json()).toEqual(created);

    const payload = { changeId: 'legacy', customerId: customer.id, fields: { phone: '+61412000999' } };
    await sql`
      INSERT INTO outbox (kind, destination, customer_id, sequence, payload, next_attempt_at, created_at)
      VALUES ('propagation', 'legacy-system', ${customer.id}, 1, ${JSON.stringify(payload)}::jsonb, now(), now())`.execute(
      app.database.db,
    );
    const claimed = await app.store.claimOutbox({
      owner: 'test',
      limit: 100,
      now: new Date(Date.now() + 60_000).toISOString(),
      leaseMs: 1000,
    });
    expect(claimed.find((message) => message.destination === 'legacy-system')?.payload).toEqual(payload);
  });

  it('re-seals change requests, deliveries, manual tasks and TOTP secrets under a new key, those in clear too', async () => {
    const customer = await app.addCustomer();
    const integration = await app.addIntegration();
    const staff = await app.addStaff('representative');
    const submitted = await app.call(integration.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Resealed Name' }],
      reason: 'Prefers it',
      confirmSubmittedValues: true,
    });
    expect(submitted.statusCode).toBe(201);
    const [delivery] = await app.store.outboxForChangeRequest(submitted.json().id);
    await app.store.createManualTask({
      id: randomUUID(),
      outboxId: delivery!.id,
      system: 'paper-files',
      customerId: customer.id,
      changeRequestId: submitted.json().id,
      values: { preferredName: 'Resealed Name' },
      now: new Date().toISOString(),
    });
    const reads = async () => ({
      request: await app.store.findChangeRequest(submitted.json().id),
      task: (await app.store.listManualTasks({ limit: 100 })).items.find(
        (task) => task.changeRequestId === submitted.json().id,
      )?.values,
      totp: (await app.store.findStaffCredentials(staff.email))?.totpSecret,
      legacy: (
        await app.store.claimOutbox({
          owner: 'reseal-test',
          limit: 100,
          now: new Date(Date.now() + 600_000).toISOString(),
          leaseMs: 1,
        })
      ).find((message) => message.destination === 'legacy-system')?.payload,
    });
    const before = await reads();
    expect(before.legacy).toMatchObject({ fields: { phone: '+61412000999' } });

    const added = addDataKey(keyFile);
    await untilSealingWith(added.keyId);
    for (const records of SEALED_RECORDS) {
      expect(await app.store.countRecordsToReseal(records), records).toBeGreaterThan(0);
      expect((await resealAll(app.store, records, () => {})).remaining, records).toBe(0);
      expect(await app.store.countRecordsToReseal(records), records).toBe(0);
    }
    // Every sealed value in these tables is under the new key, and what an earlier version left in clear
    // (the request and delivery of 'reads requests … written before their values were sealed') is sealed.
    const stored = (
      await sql<{ text: string }>`
        SELECT body::text AS text FROM change_request UNION ALL SELECT payload::text FROM outbox
        UNION ALL SELECT field_values::text FROM manual_task
        UNION ALL SELECT totp_secret FROM staff_user WHERE totp_secret IS NOT NULL`.execute(app.database.db)
    ).rows
      .map((row) => row.text)
      .join('\n');
    expect(new Set([...stored.matchAll(/v1\.([A-Za-z0-9_-]+)\./g)].map((match) => match[1]))).toEqual(
      new Set([added.keyId]),
    );
    for (const value of ['412000999', 'Resealed Name', 'Prefers it', before.totp!])
      expect(stored).not.toContain(value);
    expect(await reads()).toEqual(before);
  });

  it('finds a change request with any one of its sealed parts left in clear', async () => {
    const customer = await app.addCustomer({ preferredName: 'One Part' });
    const integration = await app.addIntegration();
    const { id } = (
      await app.call(integration.apiKey, 'POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'preferredName', value: 'Every Part' }],
        confirmSubmittedValues: true,
      })
    ).json();
    const request = (await app.store.findChangeRequest(id))!;
    const by = request.requester;
    const full = {
      ...request,
      version: request.version + 1,
      reason: 'Moved in with a friend',
      verifications: [
        {
          id: 'v',
          method: 'knowledge_check' as const,
          outcome: 'passed' as const,
          evidence: { answered: 2 },
          recordedBy: by,
          recordedAt: request.createdAt,
        },
      ],
      notes: [{ by, at: request.createdAt, text: 'Called the customer back' }],
      escalation: {
        reason: 'other' as const,
        note: 'Asked for a second look',
        from: request.state,
        escalatedBy: by,
        escalatedAt: request.createdAt,
      },
    };
    expect(await app.store.updateChangeRequests([{ request: full, expectedVersion: request.version }])).toBe(
      1,
    );
    const rawBody = async () =>
      (
        await sql<{ body: unknown }>`SELECT body FROM change_request WHERE id = ${id}`.execute(
          app.database.db,
        )
      ).rows[0]!.body;
    const sealed = await rawBody();
    // The parts the search looks in are the parts the store seals: each sealed value lies on one of its paths.
    const sealedAt = (value: unknown, path: string): string[] =>
      isSealedJson(value)
        ? [path]
        : Array.isArray(value)
          ? value.flatMap((each) => sealedAt(each, `${path}[*]`))
          : typeof value === 'object' && value !== null
            ? Object.entries(value).flatMap(([key, each]) => sealedAt(each, path ? `${path}.${key}` : key))
            : [];
    expect(new Set(sealedAt(sealed, ''))).toEqual(new Set(CHANGE_REQUEST_PARTS));
    expect(await app.store.countRecordsToReseal('change_request')).toBe(0);

    // biome-ignore lint/suspicious/noExplicitAny: a walk over JSON of any shape
    const inClear = (stored: any, plain: any, [head, ...rest]: string[]): unknown =>
      head === undefined
        ? plain
        : head === '*'
          ? // biome-ignore lint/suspicious/noExplicitAny: as above
            stored.map((each: any, i: number) => inClear(each, plain[i], rest))
          : { ...stored, [head]: inClear(stored[head], plain[head], rest) };
    for (const part of CHANGE_REQUEST_PARTS) {
      const body = inClear(sealed, full, part.replaceAll('[*]', '.*').split('.'));
      await sql`UPDATE change_request SET body = ${JSON.stringify(body)}::jsonb WHERE id = ${id}`.execute(
        app.database.db,
      );
      expect(await app.store.countRecordsToReseal('change_request'), part).toBe(1);
      expect(await app.store.findChangeRequest(id)).toEqual(full);
      expect(await resealAll(app.store, 'change_request', () => {})).toEqual({ resealed: 1, remaining: 0 });
      expect(new Set(sealedAt(await rawBody(), ''))).toEqual(new Set(CHANGE_REQUEST_PARTS));
      expect(await app.store.findChangeRequest(id)).toEqual(full);
    }
  });

  it('refuses a keys file that names a current key it does not hold', () => {
    const dir = mkdtempSync(join(tmpdir(), 'amend-keys-'));
    const file = join(dir, 'data-keys.json');
    writeFileSync(
      file,
      JSON.stringify({
        current: 'k9',
        keys: { k1: randomBytes(32).toString('base64') },
        blindIndexKey: randomBytes(32).toString('base64'),
      }),
    );
    expect(() => createFileFieldCipher(file)).toThrow(/current key "k9"/);
    writeFileSync(file, JSON.stringify({ current: 'k1', keys: { k1: 'c2hvcnQ=' }, blindIndexKey: 'x' }));
    expect(() => createFileFieldCipher(file)).toThrow(/keys.k1: must be 32 bytes/);
    rmSync(dir, { recursive: true, force: true });
    // A store over another cipher cannot read this database's customers.
    const stranger = createStore(
      app.database.db,
      sha256Hex,
      createFieldCipher({
        current: 'k1',
        keys: { k1: randomBytes(32).toString('base64') },
        blindIndexKey: randomBytes(32).toString('base64'),
      }),
    );
    return expect(stranger.listCustomers({ limit: 1 })).rejects.toThrow();
  });
});
