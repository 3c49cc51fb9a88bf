import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectedSystems } from '../src/adapters/connectors/connected-systems-config.ts';
import type { ConnectedSystem } from '../src/app/ports.ts';
import { sweepChangeRequests } from '../src/app/sweep-change-requests.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { type SampleSystem, startSampleSystem } from '../src/demo/sample-connected-system.ts';
import { createMetrics, HISTORY_MAX_AGE_MS } from '../src/server/metrics.ts';
import { openDatabase } from '../src/store/database.ts';
import { createOutboxWorker } from '../src/worker/outbox-worker.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';
import { testEngine } from './support/test-database.ts';

let app: TestApp;
const samples: SampleSystem[] = [];
let systems: Map<string, ConnectedSystem>;
type Key = { id: string; apiKey: string };
let integration: Key;
let representative: Key;
let lead: Key;
let manager: Key;
/** Every request the test made, with what it asked for: the independent record the report is checked against. */
const made: { id: string; fields: string[]; channel: string; tier: string }[] = [];

async function drain() {
  const worker = createOutboxWorker({ ...app.deps, systems });
  for (let round = 0; round < 40; round += 1) {
    if ((await worker.runOnce()) === 0) {
      app.clock.advance(5_000);
      if ((await worker.runOnce()) === 0) return;
    }
  }
}

async function submit(
  key: Key,
  customer: Customer,
  changes: { field: string; value: unknown }[],
  isConfirmed: boolean,
) {
  const response = await app.call(key.apiKey, 'POST', '/api/v1/change-requests', {
    customerId: customer.id,
    changes,
    confirmSubmittedValues: isConfirmed,
  });
  expect(response.statusCode, response.body).toBe(201);
  const body = response.json();
  made.push({ id: body.id, fields: changes.map((c) => c.field), channel: body.channel, tier: body.tier });
  return body;
}

async function legalNameChange(customer: Customer, name: string, isApproved: boolean) {
  const created = await submit(representative, customer, [{ field: 'legalName', value: name }], false);
  await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/verify`, {
    method: 'id_document',
    outcome: 'passed',
    evidence: { documentType: 'passport', documentReference: 'PR1', checklist: { ok: true } },
  });
  await app.call(representative.apiKey, 'POST', `/api/v1/change-requests/${created.id}/confirm`, {
    revision: 1,
  });
  if (isApproved)
    await app.call(lead.apiKey, 'POST', `/api/v1/change-requests/${created.id}/approve`, {
      reason: 'Checked',
    });
  return created.id as string;
}

/** Linear-interpolated percentile, written here apart from the SQL under test. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

let overdueId = '';
let revertedOriginalId = '';
const reviewedIds: string[] = [];

beforeAll(async () => {
  app = await createTestApp();
  app.clock.set('2026-10-05T09:00:00.000Z');
  integration = await app.addIntegration();
  representative = await app.addStaff('representative');
  lead = await app.addStaff('team_lead');
  manager = await app.addStaff('manager');
  for (const name of ['billing', 'shipping', 'marketing'])
    samples.push(await startSampleSystem({ name, secret: `${name}-secret` }));
  const built = buildConnectedSystems(
    {
      systems: samples.map((s) => ({
        id: s.name,
        kind: 'webhook',
        url: `${s.url()}/hooks/amend`,
        secret: `${s.name}-secret`,
        readBackUrl: `${s.url()}/customers/{customerId}`,
      })),
    },
    app.policy,
    'test',
    app.deps,
  );
  if (!built.ok) throw new Error(built.error.message);
  systems = built.value;

  const [a, b, c, d] = await Promise.all([
    app.addCustomer(),
    app.addCustomer(),
    app.addCustomer(),
    app.addCustomer(),
  ]);
  for (const name of ['Alba', 'Bea', 'Cleo'])
    await submit(integration, a!, [{ field: 'preferredName', value: name }], true);
  await submit(
    integration,
    b!,
    [
      { field: 'phone', value: '+61499222333' },
      { field: 'communicationPreferences', value: { sms: true } },
    ],
    true,
  );
  // Deliveries acknowledged after different waits, so the report's lag percentiles have something to tell.
  app.clock.advance(1_234);
  await drain();
  app.clock.advance(60_000);
  await legalNameChange(c!, 'Carla Jane Smith', true);
  app.clock.advance(2_345);
  await drain();
  overdueId = await legalNameChange(d!, 'Dana Lee Jones', false);
  app.clock.advance(3 * 24 * 60 * 60 * 1000);
  await sweepChangeRequests(app.deps);

  // A "this wasn't me" report and its revert.
  const original = await submit(integration, b!, [{ field: 'preferredName', value: 'Bo' }], true);
  revertedOriginalId = original.id;
  await drain();
  const mail = (await app.call(manager.apiKey, 'GET', `/api/v1/mail?changeRequestId=${original.id}`)).json()
    .items[0];
  const token = /\/not-me\/([^\s"]+)/.exec(mail.text)![1]!;
  const caseId = (
    await app.server.inject({
      method: 'POST',
      url: `/not-me/${token}`,
      headers: { accept: 'application/json' },
    })
  ).json().caseId;
  const revert = (await app.call(lead.apiKey, 'POST', `/api/v1/cases/${caseId}/revert`)).json();
  made.push({ id: revert.id, fields: ['preferredName'], channel: 'email', tier: 'basic' });
  await drain();

  // Quality review of three completed requests, one marked wrong; and the many-changes flag confirmed.
  for (const [index, entry] of made
    .filter((m) => m.fields[0] === 'preferredName' && m.channel === 'api')
    .slice(0, 3)
    .entries()) {
    const reviewed = await app.call(
      manager.apiKey,
      'POST',
      `/api/v1/change-requests/${entry.id}/quality-review`,
      { hasError: index === 0, note: index === 0 ? 'Typo kept' : undefined },
    );
    expect(reviewed.statusCode, reviewed.body).toBe(200);
    reviewedIds.push(entry.id);
  }
  const flag = (
    await app.call(manager.apiKey, 'GET', '/api/v1/anomalies?rule=many_changes_to_one_customer')
  ).json().items[0];
  await app.call(manager.apiKey, 'POST', `/api/v1/anomalies/${flag.id}/confirm`, {
    reason: 'Customer did not make the third change',
  });
});

afterAll(async () => {
  await Promise.all(samples.map((s) => s.close()));
  await app.close();
});

describe('the monthly report', () => {
  it('matches figures computed independently from what happened', async () => {
    const report = (await app.call(manager.apiKey, 'GET', '/api/v1/reports/monthly?month=2026-10')).json();
    const tally = (values: string[]) => {
      const counts: Record<string, number> = {};
      for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
      return counts;
    };
    const count = (key: 'channel' | 'tier') => tally(made.map((m) => m[key]));
    const byField = tally(made.flatMap((m) => m.fields));
    expect(report.volume).toEqual({
      total: made.length,
      byField,
      byChannel: count('channel'),
      byTier: count('tier'),
    });

    const details = await Promise.all(
      made.map(async (m) =>
        (await app.call(manager.apiKey, 'GET', `/api/v1/change-requests/${m.id}`)).json(),
      ),
    );
    const minutes = details
      .filter((r) => r.completedAt)
      .map((r) => (Date.parse(r.completedAt) - Date.parse(r.createdAt)) / 60_000);
    expect(report.processingTime.completed).toBe(minutes.length);
    expect(report.processingTime.medianMinutes).toBeCloseTo(percentile(minutes, 0.5)!, 6);
    expect(report.processingTime.p90Minutes).toBeCloseTo(percentile(minutes, 0.9)!, 6);

    expect(report.accuracy).toEqual({
      reviewed: 3,
      reviewedWithError: 1,
      reverts: 1,
      rate: (3 - 1) / (3 + 1),
    });
    expect(report.unauthorisedChangeDetection).toMatchObject({
      flagsConfirmed: 1,
      notMeReports: 1,
      reverts: 1,
    });
    expect(report.unauthorisedChangeDetection.flagsRaised).toMatchObject({
      many_changes_to_one_customer: 1,
      not_me_report: 1,
    });
    expect(report.approvalSlaBreaches).toBe(1);

    type Delivery = { destination: string; createdAt: string; confirmedAt: string | null; kind: string };
    const deliveries = details
      .flatMap((r) => r.propagation as Delivery[])
      .filter((d) => d.kind === 'propagation');
    for (const system of ['billing', 'shipping', 'marketing']) {
      const mine = deliveries.filter((d) => d.destination === system);
      const lags = mine
        .filter((d) => d.confirmedAt)
        .map((d) => (Date.parse(d.confirmedAt!) - Date.parse(d.createdAt)) / 1000);
      expect(new Set(lags).size, 'lags that differ, so a wrong percentile shows').toBeGreaterThan(1);
      const figures = report.propagation.find((p: { system: string }) => p.system === system);
      expect(figures).toMatchObject({
        deliveries: mine.length,
        confirmed: lags.length,
        deadLetters: 0,
      });
      expect(figures.medianLagSeconds).toBeCloseTo(percentile(lags, 0.5)!, 6);
      expect(figures.p90LagSeconds).toBeCloseTo(percentile(lags, 0.9)!, 6);
    }
    expect(report.propagation.map((p: { system: string }) => p.system)).toEqual(
      [...new Set(deliveries.map((d) => d.destination))].sort(),
    );
    expect(report.compliance).toEqual({
      appliedChanges: details.filter((r) => r.appliedAt).length,
      procedureFindings: {},
      optOutDeadlineBreaches: 0,
    });
  });

  it('gives lags past ten seconds to within 0.05% of the exact percentiles, in an outage month', async () => {
    // A system that was down: its deliveries acknowledged from ten seconds to nine hours late, each lag its own.
    const lags = Array.from({ length: 2_000 }, (_, i) => 10 + i * 17.123457);
    await sql`
      INSERT INTO outbox (kind, destination, customer_id, change_request_id, sequence, payload, status,
                          next_attempt_at, created_at, delivered_at, confirmed_at)
      SELECT 'propagation', 'lagging', o.customer_id, o.change_request_id, o.sequence, o.payload, 'delivered',
             at, at, at + lag * interval '1 second', at + lag * interval '1 second'
      FROM (SELECT * FROM outbox WHERE kind = 'propagation' LIMIT 1) AS o,
           unnest(${lags}::float8[]) AS lag, (SELECT '2026-11-10T00:00:00Z'::timestamptz AS at) AS moment`.execute(
      app.database.db,
    );
    const report = (await app.call(manager.apiKey, 'GET', '/api/v1/reports/monthly?month=2026-11')).json();
    const lagging = report.propagation.find((p: { system: string }) => p.system === 'lagging');
    expect(lagging).toMatchObject({ deliveries: lags.length, confirmed: lags.length, deadLetters: 0 });
    for (const [figure, fraction] of [
      ['medianLagSeconds', 0.5],
      ['p90LagSeconds', 0.9],
    ] as const) {
      const exact = percentile(lags, fraction)!;
      expect(Math.abs(lagging[figure] - exact) / exact, figure).toBeLessThanOrEqual(0.0005);
    }
  });

  it('also comes as CSV and as a printable PDF', async () => {
    const csv = await app.call(manager.apiKey, 'GET', '/api/v1/reports/monthly?month=2026-10&format=csv');
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\n')[0]).toBe('section,metric,key,value');
    expect(csv.body).toContain(`volume,total,,${made.length}`);
    const pdf = await app.call(manager.apiKey, 'GET', '/api/v1/reports/monthly?month=2026-10&format=pdf');
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.rawPayload.length).toBeGreaterThan(2000);
    expect((await app.call(manager.apiKey, 'GET', '/api/v1/reports/monthly?month=2026-13')).json().code).toBe(
      'REQUEST.INVALID',
    );
    expect(
      (await app.call(representative.apiKey, 'GET', '/api/v1/reports/monthly?month=2026-10')).json().code,
    ).toBe('AUTH.FORBIDDEN');
  });

  // PostgreSQL compiled the report's aggregates over a million requests for 0.4 s a query and ran no faster.
  it.runIf(testEngine() === 'postgres')(
    'reads PostgreSQL uncompiled (JIT off), an operator’s PGOPTIONS still applying over it',
    async () => {
      const setting = async (db: TestApp['database']['db'], name: string) =>
        (await sql<{ value: string }>`SELECT current_setting(${name}) AS value`.execute(db)).rows[0]!.value;
      expect(await setting(app.database.db, 'jit')).toBe('off');
      const before = process.env.PGOPTIONS;
      process.env.PGOPTIONS = '-c work_mem=5MB -c jit=on';
      const tuned = await openDatabase({ url: app.database.url!, poolSize: 1 });
      try {
        expect(await setting(tuned.db, 'work_mem')).toBe('5MB');
        expect(await setting(tuned.db, 'jit')).toBe('on');
      } finally {
        if (before === undefined) delete process.env.PGOPTIONS;
        else process.env.PGOPTIONS = before;
        await tuned.close();
      }
    },
  );

  it('offers a quality-review sample of completed requests not yet reviewed', async () => {
    const sample = (
      await app.call(manager.apiKey, 'GET', '/api/v1/quality-reviews/sample?month=2026-10&size=50')
    ).json();
    expect(sample.changeRequestIds.length).toBeGreaterThan(0);
    for (const id of reviewedIds) expect(sample.changeRequestIds).not.toContain(id);
    expect(sample.changeRequestIds).not.toContain(overdueId);
  });
});

describe('the completeness review', () => {
  it('reviews the month in groups of changes that share their facts, every applied entry counted', async () => {
    const [from, to] = ['2026-10-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z'];
    const systems = ['billing', 'shipping', 'marketing'];
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM audit_entry
      WHERE action = 'change_request.applied' AND occurred_at >= ${from} AND occurred_at < ${to}`.execute(
      app.database.db,
    );
    const groups = await app.store.reviewGroups(from, to, systems);
    expect(groups.reduce((sum, group) => sum + group.appliedChanges, 0)).toBe(rows[0]!.n);
    expect(groups.length).toBeLessThan(rows[0]!.n);
    expect(new Set(groups.map((group) => group.key)).size).toBe(groups.length);
    const legalName = groups.find((group) => group.facts?.fields.includes('legalName'))!;
    expect(legalName.facts).toEqual({
      fields: ['legalName'],
      passedMethods: ['id_document'],
      isRevert: false,
      isReadBack: true,
      approver: { id: lead.id, role: 'team_lead', isHandler: false },
      sentTo: ['billing', 'shipping'],
      unconfirmedBy: [],
      isCustomerConfirmed: true,
    });
    const members = await app.store.reviewGroupMembers(from, to, systems, [legalName.key]);
    expect(members.map((member) => member.changeRequestId)).toEqual(
      made.filter((m) => m.fields[0] === 'legalName' && m.id !== overdueId).map((m) => m.id),
    );
  });

  it('knows an approver who also handled the change, whichever way they handled it', async () => {
    const approved = made.find((m) => m.fields[0] === 'legalName' && m.id !== overdueId)!.id;
    const db = app.database.db;
    const { rows } = await sql<{
      body: unknown;
    }>`SELECT body FROM change_request WHERE id = ${approved}`.execute(db);
    const original = JSON.stringify(rows[0]!.body);
    // From the request as it was: the approver renamed "someone", and "someone" made one of its handlers.
    const isHandler = async (path: string | null) => {
      const { rows: updated } = await sql<{ is_approver_handler: boolean }>`
        UPDATE change_request SET body = jsonb_set(
          CASE WHEN ${path}::text[] IS NULL THEN ${original}::jsonb
            ELSE jsonb_set(${original}::jsonb, ${path}::text[], '"someone"') END,
          '{approval,approver,id}', '"someone"')
        WHERE id = ${approved}
        RETURNING is_approver_handler`.execute(db);
      return updated[0]!.is_approver_handler;
    };
    try {
      expect(await isHandler(null)).toBe(false);
      expect(await isHandler('{requester,id}')).toBe(true);
      expect(await isHandler('{processedBy,0}')).toBe(true);
      expect(await isHandler('{verifications,0,recordedBy,id}')).toBe(true);
      expect(await isHandler('{readBack,confirmedBy,id}')).toBe(true);
    } finally {
      await sql`UPDATE change_request SET body = ${original}::jsonb WHERE id = ${approved}`.execute(db);
    }
  });

  it('is empty by construction, and names each applied change whose record was tampered with', async () => {
    const clean = (await app.call(manager.apiKey, 'GET', '/api/v1/audit/review?month=2026-10')).json();
    expect(clean.findings).toEqual([]);
    expect(clean.appliedChanges).toBeGreaterThanOrEqual(6);

    const approved = made.find((m) => m.fields[0] === 'legalName' && m.id !== overdueId)!.id;
    const phone = made.find((m) => m.fields.includes('phone'))!.id;
    const name = made.find(
      (m) => m.fields[0] === 'preferredName' && m.channel === 'api' && m.id !== revertedOriginalId,
    )!.id;
    const otherName = made.find(
      (m) =>
        m.fields[0] === 'preferredName' &&
        m.channel === 'api' &&
        m.id !== revertedOriginalId &&
        m.id !== name,
    )!.id;
    const revert = made.find((m) => m.channel === 'email')!.id;
    const db = app.database.db;
    // The approver made the requester: the approval is there, but not by a second person.
    await sql`UPDATE change_request SET body = jsonb_set(body, '{approval,approver,id}', body->'requester'->'id')
      WHERE id = ${approved}`.execute(db);
    await sql`DELETE FROM outbox WHERE change_request_id = ${phone} AND destination = 'billing'`.execute(db);
    await sql`UPDATE change_request SET body = jsonb_set(body, '{verifications}', '[]') WHERE id = ${name}`.execute(
      db,
    );
    await sql`UPDATE outbox SET confirmed_at = NULL WHERE change_request_id = ${name} AND kind = 'confirmation'`.execute(
      db,
    );
    await sql`UPDATE outbox SET confirmed_at = NULL WHERE change_request_id = ${otherName} AND destination = 'billing'`.execute(
      db,
    );
    // A revert is verified by the customer's "this wasn't me" link, whatever the tier.
    await sql`UPDATE change_request SET body = jsonb_set(body, '{verifications}', '[]') WHERE id = ${revert}`.execute(
      db,
    );

    const review = (await app.call(manager.apiKey, 'GET', '/api/v1/audit/review?month=2026-10')).json();
    const found = review.findings
      .map((f: { changeRequestId: string; code: string }) => `${f.changeRequestId}:${f.code}`)
      .sort();
    expect(found).toEqual(
      [
        `${approved}:APPROVAL_MISSING`,
        `${phone}:CONNECTED_SYSTEM_SKIPPED`,
        `${name}:VERIFICATION_BELOW_TIER`,
        `${name}:CONFIRMATION_NOT_DELIVERED`,
        `${otherName}:NOT_CONSISTENT`,
        `${revert}:VERIFICATION_BELOW_TIER`,
      ].sort(),
    );
    expect(
      review.findings.find((f: { changeRequestId: string }) => f.changeRequestId === approved).message,
    ).toMatch(/not an eligible second person/);
    const report = (await app.call(manager.apiKey, 'GET', '/api/v1/reports/monthly?month=2026-10')).json();
    expect(report.compliance.procedureFindings).toEqual({
      APPROVAL_MISSING: 1,
      CONNECTED_SYSTEM_SKIPPED: 1,
      VERIFICATION_BELOW_TIER: 2,
      CONFIRMATION_NOT_DELIVERED: 1,
      NOT_CONSISTENT: 1,
    });
  });
});

describe('/metrics', () => {
  it('exposes requests by state, processing time, verification failures, outbox, dead letters and flags', async () => {
    const metrics = (await app.server.inject({ method: 'GET', url: '/metrics' })).body;
    const completed = made.length - 1; // all but the overdue approval… less the reverted original, counted as reverted
    expect(metrics).toMatch(/amend_change_requests\{state="completed"\} \d+/);
    expect(metrics).toContain('amend_change_requests{state="awaiting_approval"} 1');
    expect(metrics).toContain('amend_change_requests{state="reverted"} 1');
    expect(metrics).toMatch(new RegExp(`amend_change_request_processing_seconds_count ${completed}`));
    expect(metrics).toContain('amend_change_request_processing_seconds_bucket{le="+Inf"}');
    expect(metrics).toMatch(/amend_outbox_depth \d+/);
    expect(metrics).toContain('amend_dead_letters 0');
    expect(metrics).toContain('amend_anomaly_flags_open{severity="high"}');
    expect(metrics).toContain('amend_verification_failures_total 0');
  });

  it('keeps serving the last reading when a reading in the background fails, and reports the failure', async () => {
    let isFailing = false;
    const failures: unknown[] = [];
    const metrics = createMetrics(
      {
        metricsBacklog: () => app.deps.store.metricsBacklog(),
        metricsHistory: (buckets) =>
          isFailing ? Promise.reject(new Error('connection lost')) : app.deps.store.metricsHistory(buckets),
      },
      app.clock,
      (error) => failures.push(error),
    );
    // The lines that come from the history (the backlog is read afresh at every scrape).
    const history = async () =>
      (await metrics.render())
        .split('\n')
        .filter((line) =>
          /^(amend_change_request_processing_seconds|amend_verification_failures_total|amend_change_requests\{state="(completed|rejected|reverted)"\})/.test(
            line,
          ),
        );
    const first = await history();
    expect(first.length).toBeGreaterThan(3);
    app.clock.advance(HISTORY_MAX_AGE_MS);
    isFailing = true;
    expect(await history()).toEqual(first);
    await new Promise((resolve) => setImmediate(resolve));
    expect(failures).toEqual([new Error('connection lost')]);
    isFailing = false;
    expect(await history()).toEqual(first);
  });

  it('reads the backlog at every scrape and the all-time figures at most once a minute, in the background', async () => {
    // The registry over the real store, counting its readings of the history so each can be awaited.
    const readings: Promise<unknown>[] = [];
    const metrics = createMetrics(
      {
        metricsBacklog: () => app.deps.store.metricsBacklog(),
        metricsHistory: (buckets) => {
          const reading = app.deps.store.metricsHistory(buckets);
          readings.push(reading);
          return reading;
        },
      },
      app.clock,
    );
    const figure = (metrics: string, name: string) => {
      const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? 0 : Number(line.slice(name.length + 1));
    };
    const completed = 'amend_change_requests{state="completed"}';
    const processed = 'amend_change_request_processing_seconds_count';
    const firstReadAt = app.clock.now().getTime();
    const before = await metrics.render();
    expect(readings).toHaveLength(1);
    const customer = await app.addCustomer();
    const request = await submit(integration, customer, [{ field: 'preferredName', value: 'Ivo' }], true);
    const { rows } = await sql<{ count: number }>`
      SELECT count(*)::int AS count FROM outbox WHERE change_request_id = ${request.id}`.execute(
      app.database.db,
    );
    expect(rows[0]!.count).toBeGreaterThan(0);

    // Within the minute: the new request's deliveries show at once, its completion does not.
    const applied = await metrics.render();
    expect(figure(applied, 'amend_outbox_depth')).toBe(figure(before, 'amend_outbox_depth') + rows[0]!.count);
    await drain();
    expect(app.clock.now().getTime() - firstReadAt).toBeLessThan(HISTORY_MAX_AGE_MS);
    const drained = await metrics.render();
    expect(figure(drained, 'amend_outbox_depth')).toBe(figure(before, 'amend_outbox_depth'));
    expect(figure(drained, completed)).toBe(figure(before, completed));
    expect(figure(drained, processed)).toBe(figure(before, processed));
    expect(readings).toHaveLength(1);

    // A minute after the last reading, a scrape still answers from it at once and starts the next reading,
    // which the scrapes after it show.
    app.clock.set(new Date(firstReadAt + HISTORY_MAX_AGE_MS).toISOString());
    const stale = await metrics.render();
    expect(figure(stale, completed)).toBe(figure(before, completed));
    expect(figure(stale, processed)).toBe(figure(before, processed));
    expect(readings).toHaveLength(2);
    await readings[1];
    const later = await metrics.render();
    expect(figure(later, completed)).toBe(figure(before, completed) + 1);
    expect(figure(later, processed)).toBe(figure(before, processed) + 1);
    expect(readings).toHaveLength(2);
  });
});
