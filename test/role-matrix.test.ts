import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffCredentialKit } from '../src/adapters/staff-credentials.ts';
import { ACCESS_MATRIX, type Action } from '../src/core/access-matrix.ts';
import { ROLES, type Role } from '../src/core/change-request-types.ts';
import type { AccessRoute } from '../src/server/auth.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

/**
 * Walks the written matrix (docs/roles.md): every authenticated endpoint, as every role, and for a customer
 * both on their own record and on another customer's. A cell fails when the answer is not as written:
 * forbidden → 403 AUTH.FORBIDDEN; a customer on another's id → 404; allowed → neither 401, 403 nor that 404.
 */

let app: TestApp;
const credentials = new Map<
  Role,
  (method: string, url: string, payload: unknown) => Promise<LightMyRequestResponse>
>();
let own: { customerId: string; changeRequestId: string };
let foreign: { customerId: string; changeRequestId: string };

const STAFF = ['representative', 'team_lead', 'manager', 'auditor', 'admin'] as const;

beforeAll(async () => {
  app = await createTestApp();
  const integration = await app.addIntegration();
  const fixture = async (name: string) => {
    const customer = await app.addCustomer({ legalName: name });
    const submitted = await app.call(integration.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: `${name.split(' ')[0]} Fixture` }],
      confirmSubmittedValues: true,
    });
    expect(submitted.statusCode).toBe(201);
    return { customerId: customer.id, changeRequestId: submitted.json().id as string };
  };
  own = await fixture('Owen Own');
  foreign = await fixture('Fiona Foreign');

  const bearer = (token: string) => (method: string, url: string, payload: unknown) =>
    app.server.inject({
      method: method as 'GET',
      url,
      payload: payload as object,
      headers: { authorization: `Bearer ${token}` },
    });
  credentials.set('integration', bearer(integration.apiKey));
  credentials.set('customer', bearer(await app.customerSession(own.customerId)));
  for (const role of STAFF) credentials.set(role, bearer((await app.addStaff(role)).apiKey));
});
afterAll(() => app.close());

/** Staff session endpoints need a browser session: a fresh one per call, since some calls sign it out. */
async function staffSessionCall(role: Role, method: string, url: string, payload: unknown) {
  const member = await app.addStaff(role as (typeof STAFF)[number]);
  const token = staffCredentialKit.newToken('sst');
  const csrf = staffCredentialKit.newToken('csrf');
  const now = app.clock.now();
  await app.store.insertStaffSession({
    id: randomUUID(),
    staffUserId: member.id,
    tokenHash: token.tokenHash,
    csrfHash: csrf.tokenHash,
    now: now.toISOString(),
    absoluteExpiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
  });
  return app.server.inject({
    method: method as 'GET',
    url,
    payload: payload as object,
    cookies: { amend_session: token.token },
    headers: { 'x-csrf-token': csrf.token },
  });
}

/** Fills the path's id with the record the cell is about; ids of other kinds are unknown (404 after authz). */
function urlFor(route: AccessRoute, subject: { customerId: string; changeRequestId: string }): string {
  if (route.url.startsWith('/api/v1/customers/:id')) return route.url.replace(':id', subject.customerId);
  if (route.url.startsWith('/api/v1/change-requests/:id'))
    return route.url.replace(':id', subject.changeRequestId);
  if (route.url.startsWith('/api/v1/audit/:id')) return route.url.replace(':id', '999999999');
  return route.url.replace(':id', randomUUID());
}

/** Bodies that pass validation where a customer may act, so the own/foreign check is what answers. */
function bodyFor(route: AccessRoute, subject: { customerId: string }): unknown {
  if (route.method === 'GET' || route.method === 'DELETE') return undefined;
  if (route.url === '/api/v1/change-requests')
    return {
      customerId: subject.customerId,
      changes: [{ field: 'preferredName', value: 'Matrix Walk' }],
      confirmSubmittedValues: true,
    };
  if (route.url.endsWith('/confirm')) return { revision: 1 };
  if (route.url.endsWith('/cancel')) return { reason: 'Walking the role matrix' };
  if (route.url === '/api/v1/validate')
    return { field: 'phone', value: '+61412345678', customerId: subject.customerId };
  return {};
}

type Outcome = 'forbidden' | 'hidden' | 'allowed';

function outcomeOf(response: LightMyRequestResponse): Outcome {
  const code = response.json().code as string | undefined;
  if (response.statusCode === 403 && code === 'AUTH.FORBIDDEN') return 'forbidden';
  if (response.statusCode === 404 && (code === 'CUSTOMER.NOT_FOUND' || code === 'CHANGE_REQUEST.NOT_FOUND'))
    return 'hidden';
  if (response.statusCode === 401 || response.statusCode === 403 || response.statusCode >= 500)
    return `unexpected ${response.statusCode} ${code}` as Outcome;
  return 'allowed';
}

const isAllowedByMatrix = (role: Role, action: Action) =>
  (ACCESS_MATRIX[action] as readonly Role[]).includes(role);

/** The matrix as written in docs/roles.md: which roles each endpoint allows. */
function writtenMatrix(): Map<string, Set<Role>> {
  const lines = readFileSync(new URL('../docs/roles.md', import.meta.url), 'utf8').split('\n');
  const header = lines.find((line) => line.startsWith('| action |'))!;
  const labels = header
    .split('|')
    .slice(2, -2)
    .map((cell) => cell.trim());
  const roles = labels.map((label) => ROLES.find((role) => role === label || ROLE_LABELS[role] === label)!);
  const byEndpoint = new Map<string, Set<Role>>();
  for (const line of lines.filter((l) => l.startsWith('| `'))) {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    const allowed = new Set(roles.filter((_, i) => cells[i + 1] === 'yes' || cells[i + 1] === 'own'));
    for (const endpoint of cells.at(-1)!.split('<br>')) byEndpoint.set(endpoint.replaceAll('`', ''), allowed);
  }
  return byEndpoint;
}

const ROLE_LABELS: Partial<Record<Role, string>> = { representative: 'rep', team_lead: 'lead' };

describe('the role × action matrix, walked over every endpoint', () => {
  it('answers every role, on every endpoint, as docs/roles.md says', async () => {
    const routes = app.server.accessRoutes;
    expect(routes.length).toBeGreaterThan(45);
    const written = writtenMatrix();
    const mismatches: string[] = [];
    let cells = 0;
    for (const route of routes) {
      for (const role of ROLES) {
        const subjects =
          role === 'customer'
            ? ([
                ['own', own],
                ['foreign', foreign],
              ] as const)
            : ([['any', own]] as const);
        for (const [whose, subject] of subjects) {
          const url = urlFor(route, subject);
          const body = bodyFor(route, subject);
          const response =
            route.action === 'staff_session.own' && (STAFF as readonly string[]).includes(role)
              ? await staffSessionCall(role, route.method, url, body)
              : await credentials.get(role)!(route.method, url, body);
          const allowed = written.get(`${route.method} ${route.url}`);
          if (!allowed) {
            mismatches.push(`${route.method} ${route.url} is not in docs/roles.md`);
            break;
          }
          const expected: Outcome = !allowed.has(role)
            ? 'forbidden'
            : whose === 'foreign'
              ? 'hidden'
              : 'allowed';
          const actual = outcomeOf(response);
          cells += 1;
          if (actual !== expected)
            mismatches.push(
              `${role} (${whose}) ${route.method} ${route.url} [${route.action}]: expected ${expected}, got ${actual}`,
            );
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(cells).toBeGreaterThan(routes.length * ROLES.length);
  });

  it('holds the rules the matrix must never break, whatever it is edited to', () => {
    const routes = app.server.accessRoutes;
    const actionsOf = (role: Role) =>
      (Object.keys(ACCESS_MATRIX) as Action[]).filter((a) => isAllowedByMatrix(role, a));
    // A representative never approves, rejects, resolves or assigns.
    expect(actionsOf('representative')).not.toContain('change_request.decide');
    // An auditor reads and changes nothing (signing out of their own session aside).
    for (const action of actionsOf('auditor').filter((a) => a !== 'staff_session.own'))
      for (const route of routes.filter((r) => r.action === action))
        expect(`${route.method} ${action}`).toMatch(/^GET /);
    // An admin never reads or changes customers' data.
    expect(
      actionsOf('admin').filter((a) => a.startsWith('customer.') || a.startsWith('change_request.')),
    ).toEqual([]);
    // A customer and an integration never decide, and never administer.
    for (const role of ['customer', 'integration'] as const)
      for (const action of ['change_request.decide', 'staff.manage', 'api_key.manage', 'audit.read'] as const)
        expect(actionsOf(role)).not.toContain(action);
  });

  it('leaves no /api endpoint outside the matrix but the public sign-in ones', async () => {
    const document = app.server.swagger() as { paths: Record<string, Record<string, unknown>> };
    const walked = new Set(
      app.server.accessRoutes.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    const outside = documented.filter((endpoint) => !walked.has(endpoint)).sort();
    expect(outside).toEqual([
      'POST /api/v1/customer-sessions',
      'POST /api/v1/customer-sessions/verify',
      'POST /api/v1/staff-sessions',
    ]);
  });
});
