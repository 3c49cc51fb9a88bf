import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../src/app/verify-audit-log.ts';
import { FIELD_NAMES } from '../src/core/customer-types.ts';
import { ERROR_CATALOGUE } from '../src/core/error-catalogue.ts';
import { buildServer } from '../src/server/http-server.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';
import { testEngine } from './support/test-database.ts';

/**
 * Hostile input against every endpoint: generated paths, ids, query strings, headers and bodies, sent by every
 * kind of caller. Nothing may answer 5xx, every refusal is problem+json with a code from the catalogue, and no
 * request leaves a partial write behind (checked over the whole database afterwards).
 * FUZZ_RUNS sets the count (default 100,000 on PGlite; the PostgreSQL run repeats a tenth of it).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? (testEngine() === 'postgres' ? 10_000 : 100_000));

let app: TestApp;
let server: Awaited<ReturnType<typeof buildServer>>;
const endpoints: { method: string; url: string }[] = [];
const ids: string[] = [];
const customerIds: string[] = [];
const tokens: string[] = [];

beforeAll(async () => {
  app = await createTestApp();
  // The abuse limits are tested elsewhere; here they would only turn most answers into 429.
  server = await buildServer({
    ...app.deps,
    submissionLimits: { perMinutePerAddress: 10_000_000, perHourPerCustomer: 10_000_000 },
  });
  await server.ready();
  const document = server.swagger() as { paths: Record<string, Record<string, unknown>> };
  for (const [path, methods] of Object.entries(document.paths))
    for (const method of Object.keys(methods)) endpoints.push({ method: method.toUpperCase(), url: path });
  endpoints.push({ method: 'GET', url: '/not-me/{token}' }, { method: 'POST', url: '/not-me/{token}' });

  const integration = await app.addIntegration();
  tokens.push(integration.apiKey);
  for (const role of ['representative', 'team_lead', 'manager', 'auditor', 'admin'] as const)
    tokens.push((await app.addStaff(role)).apiKey);
  for (let i = 0; i < 5; i++) {
    const customer = await app.addCustomer();
    ids.push(customer.id);
    customerIds.push(customer.id);
    tokens.push(await app.customerSession(customer.id, 24 * 60));
    const submitted = await app.call(integration.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: `Fuzz ${'ABCDE'[i]}` }],
      confirmSubmittedValues: true,
    });
    ids.push(submitted.json().id);
  }
}, 60_000);
afterAll(async () => {
  await server.close();
  await app.close();
});

const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '../../etc/passwd',
    '%00',
    '1e309',
    '-1',
    '0',
    'null',
    '{}',
    '[]',
    "' OR 1=1 --",
    '<script>',
  ),
);
// Known ids are filled in beforeAll; the mapping reads them when values are generated.
const idLike = fc.oneof(
  fc.nat().map((i) => ids[i % ids.length] ?? ''),
  fc.uuid(),
  anyText,
  fc.integer().map(String),
);
const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), anyText);

const FIELDS = FIELD_NAMES;
const KEYS = [
  'customerId',
  'changes',
  'field',
  'value',
  'confirmSubmittedValues',
  'channel',
  'reason',
  'revision',
  'method',
  'evidence',
  'outcome',
  'email',
  'phone',
  'password',
  'code',
  'challengeId',
  'questions',
  'answers',
  'resolution',
  'note',
  'assigneeId',
  'name',
  'scopes',
  'role',
  'displayName',
  'currentPassword',
  'newPassword',
];

/** Bodies near the valid ones (known keys, plausible values) as well as arbitrary JSON. */
const body = fc.oneof(
  // A change request that is valid or nearly so, for a real customer: reaches the use case and the database.
  {
    weight: 4,
    arbitrary: fc.record({
      customerId: fc.nat().map((i) => customerIds[i % customerIds.length] ?? ''),
      changes: fc.array(
        fc.oneof(
          fc.record({
            field: fc.constant('preferredName'),
            value: fc.constantFrom('Ana', 'Bo', 'Cy', 'Dee', '', 'X'.repeat(300)),
          }),
          fc.record({
            field: fc.constant('phone'),
            value: fc.constantFrom('+61412345678', '0412 345 678', '+1 212 555 0123', 'phone'),
          }),
          fc.record({
            field: fc.constant('communicationPreferences'),
            value: fc.dictionary(
              fc.constantFrom('email', 'sms', 'post', 'phone', 'fax'),
              fc.oneof(fc.boolean(), value),
            ),
          }),
          fc.record({ field: fc.constantFrom(...FIELDS), value }),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      confirmSubmittedValues: fc.constantFrom(true, true, false),
    }),
  },
  fc.jsonValue({ maxDepth: 4 }),
  fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 6 }),
  fc.record({
    customerId: idLike,
    changes: fc.array(fc.record({ field: fc.oneof(fc.constantFrom(...FIELDS), anyText), value }), {
      maxLength: 4,
    }),
    confirmSubmittedValues: fc.oneof(fc.boolean(), value),
  }),
  fc.record({
    field: fc.constantFrom(...FIELDS),
    value,
    country: fc.oneof(fc.constantFrom('AU', 'GB', 'US'), anyText),
  }),
);

const request = fc.record({
  endpoint: fc.nat({ max: 10_000 }),
  // Mostly the endpoint's own method; one request in twenty another, which the path may not answer (405).
  otherMethod: fc.oneof(
    { arbitrary: fc.constant(null), weight: 19 },
    { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'), weight: 1 },
  ),
  id: idLike,
  query: fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        'limit',
        'after',
        'email',
        'state',
        'customerId',
        'month',
        'format',
        'tier',
        'overdue',
        'from',
        'to',
        'action',
      ),
      anyText,
    ),
    fc.oneof(anyText, fc.integer().map(String), fc.constantFrom('2026-11', 'json', 'csv', 'pdf', 'true')),
    { maxKeys: 4 },
  ),
  // Mostly a real caller of each kind; sometimes a bad key, sometimes none.
  caller: fc.nat({ max: 12 }),
  body,
  bodyEncoding: fc.constantFrom(
    'json',
    'json',
    'json',
    'json',
    'json',
    'json',
    'json',
    'raw',
    'form',
    'none',
  ),
  raw: fc.string({ maxLength: 200 }),
  headers: fc.record(
    {
      'idempotency-key': anyText,
      'if-match': fc.oneof(
        anyText,
        fc.nat().map((n) => `"${n}"`),
      ),
      'x-csrf-token': anyText,
      'x-amend-device-id': anyText,
      'accept-language': anyText,
    },
    { requiredKeys: [] },
  ),
});

const isHeaderSafe = (text: string) => /^[\t\x20-\x7e]*$/.test(text);

describe('fuzzing every endpoint', () => {
  it(
    `answers ${RUNS} generated requests without a 5xx, always with a stable problem code, and leaves no partial write`,
    async () => {
      let answered = 0;
      const statuses = new Map<number, number>();
      const reached = new Set<string>();
      await fc.assert(
        fc.asyncProperty(request, async (generated) => {
          // One request in ten submits a change: the path with the most writes gets the most hostility.
          const endpoint =
            generated.endpoint % 10 === 0
              ? { method: 'POST', url: '/api/v1/change-requests' }
              : endpoints[generated.endpoint % endpoints.length]!;
          const url =
            endpoint.url.replace(/\{(\w+)\}/g, () => encodeURIComponent(generated.id)) +
            (Object.keys(generated.query).length > 0 ? `?${new URLSearchParams(generated.query)}` : '');
          const headers: Record<string, string> = {};
          for (const [name, text] of Object.entries(generated.headers))
            if (isHeaderSafe(text)) headers[name] = text;
          const token = tokens[generated.caller];
          if (token) headers.authorization = `Bearer ${token}`;
          else if (generated.caller === tokens.length) headers.authorization = 'Bearer amk_not-a-real-key';
          let payload: string | undefined;
          if (generated.bodyEncoding === 'json') {
            headers['content-type'] = 'application/json';
            payload = JSON.stringify(generated.body) ?? 'null';
          } else if (generated.bodyEncoding === 'raw') {
            headers['content-type'] = 'application/json';
            payload = generated.raw;
          } else if (generated.bodyEncoding === 'form') {
            headers['content-type'] = 'application/x-www-form-urlencoded';
            payload = generated.raw;
          }
          const method = generated.otherMethod ?? endpoint.method;
          const response = await server.inject({
            method: method as 'GET',
            url,
            headers,
            payload,
            remoteAddress: `10.${generated.caller}.${generated.endpoint % 250}.${answered % 250}`,
          });
          answered += 1;
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          if (response.statusCode < 300 && method === endpoint.method)
            reached.add(`${endpoint.method} ${endpoint.url}`);
          expect(response.statusCode, `${method} ${url} → ${response.body.slice(0, 300)}`).toBeLessThan(500);
          if (response.statusCode >= 400) {
            expect(response.headers['content-type'], `${method} ${url}`).toMatch(
              /^application\/problem\+json/,
            );
            expect(Object.keys(ERROR_CATALOGUE), `${method} ${url}`).toContain(response.json().code);
          }
        }),
        { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000) },
      );
      expect(answered).toBeGreaterThanOrEqual(RUNS);
      // The generator gets past validation and authorisation too, not only bounced at the door.
      console.log(
        `fuzz: ${answered} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${reached.size} of ${endpoints.length} endpoints answered 2xx`,
      );
      for (const status of [200, 201, 400, 401, 403, 404, 405])
        expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);

      // No partial writes: every change applied to a customer moved its version once and left one audit entry,
      // every request was received in the log, and every chain still verifies.
      const versions = await sql<{ id: string; version: number; applied: number }>`
        SELECT c.id, c.version, (SELECT count(*)::int FROM audit_entry a
          WHERE a.chain = c.id::text AND a.action = 'change_request.applied') AS applied
        FROM customer c`.execute(app.database.db);
      for (const row of versions.rows) expect(row.version, row.id).toBe(1 + row.applied);
      const unlogged = await sql<{ id: string }>`
        SELECT r.id FROM change_request r WHERE NOT EXISTS (SELECT 1 FROM audit_entry a
          WHERE a.change_request_id = r.id AND a.action = 'change_request.received')`.execute(
        app.database.db,
      );
      expect(unlogged.rows).toEqual([]);
      const verification = await verifyAuditLog({ store: app.store, signer: app.signer });
      expect(verification.firstBroken).toBeNull();
    },
    30 * 60_000,
  );
});
