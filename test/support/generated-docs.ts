import { readFileSync } from 'node:fs';
import { createDocumentCipher } from '../../src/adapters/document-cipher.ts';
import { staffCredentialKit } from '../../src/adapters/staff-credentials.ts';
import { systemClock, uuidV7Ids } from '../../src/adapters/system-clock.ts';
import type { Store } from '../../src/app/ports.ts';
import { ACCESS_MATRIX, ACTIONS } from '../../src/core/access-matrix.ts';
import { ROLES, type Role } from '../../src/core/change-request-types.ts';
import { ERROR_CATALOGUE } from '../../src/core/error-catalogue.ts';
import { buildServer } from '../../src/server/http-server.ts';
import { defaultPolicy } from './test-app.ts';

/** The error catalogue as a table, with each code's doc comment from the source. */
export function errorCodesMarkdown(): string {
  const source = readFileSync(new URL('../../src/core/error-catalogue.ts', import.meta.url), 'utf8');
  const docs = new Map<string, string>();
  for (const match of source.matchAll(/\/\*\* (.+?) \*\/\n\s+'?([A-Z_.]+)'?:/g))
    docs.set(match[2]!, match[1]!);
  const rows = Object.entries(ERROR_CATALOGUE).map(
    ([code, spec]) => `| \`${code}\` | ${spec.status} | ${spec.exitCode} | ${docs.get(code) ?? spec.title} |`,
  );
  return [
    '# Error codes',
    '',
    'Generated from `src/core/error-catalogue.ts` by `npm run docs`; do not edit by hand. A code never changes meaning.',
    'HTTP answers are `application/problem+json` (RFC 9457) with the code in `code`; the CLI exits with the exit code.',
    '',
    '| code | HTTP | CLI exit | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** The OpenAPI document exactly as the server serves it at /openapi.json. */
export async function openApiDocument(): Promise<unknown> {
  const server = await docsServer();
  const document = server.swagger();
  await server.close();
  return document;
}

const ROLE_LABELS: Record<Role, string> = {
  customer: 'customer',
  representative: 'rep',
  team_lead: 'lead',
  manager: 'manager',
  auditor: 'auditor',
  admin: 'admin',
  integration: 'integration',
};

/** The written role × action matrix, with the endpoints each action covers, from the code that enforces it. */
export async function rolesMarkdown(): Promise<string> {
  const server = await docsServer();
  const routes = [...server.accessRoutes];
  await server.close();
  const header = `| action | ${ROLES.map((role) => ROLE_LABELS[role]).join(' | ')} | endpoints |`;
  const rows = ACTIONS.map((action) => {
    const allowed = ACCESS_MATRIX[action] as readonly Role[];
    const cells = ROLES.map((role) => (allowed.includes(role) ? (role === 'customer' ? 'own' : 'yes') : '–'));
    const endpoints = routes
      .filter((route) => route.action === action)
      .map((route) => `\`${route.method} ${route.url}\``)
      .join('<br>');
    return `| \`${action}\` | ${cells.join(' | ')} | ${endpoints} |`;
  });
  return [
    '# Roles and what each may do',
    '',
    'Generated from `src/core/access-matrix.ts` and the routes that name each action, by `npm run docs`; do not edit by hand.',
    'The server checks the matrix before any route runs (403 `AUTH.FORBIDDEN`); a route that names no action is refused at start-up.',
    '`test/role-matrix.test.ts` calls every endpoint as every role and fails on any cell that is not as written here.',
    '',
    '- **own**: a customer acts only on their own record and requests; another customer’s id answers 404, never 403.',
    '- Nobody approves a change they requested, verified, confirmed or edited (maker-checker, enforced in the core).',
    '- An auditor reads and changes nothing; an admin runs staff, keys and dead letters but never reads customers’ personal data.',
    '- An integration key may be narrowed further to a list of these actions (`scopes`).',
    '- Public endpoints (no role): `POST /api/v1/customer-sessions`, `POST /api/v1/customer-sessions/verify`, `POST /api/v1/staff-sessions`, the “this wasn’t me” link, `/healthz`, `/metrics`, `/openapi.json`.',
    '',
    header,
    `|---|${ROLES.map(() => ':-:').join('|')}|---|`,
    ...rows,
    '',
  ].join('\n');
}

async function docsServer() {
  const server = await buildServer({
    store: {} as Store,
    calendars: new Map(),
    codes: {
      newCode: () => '',
      hash: () => '',
      matches: () => false,
      newSessionToken: () => ({ token: '', tokenHash: '' }),
      sessionTokenHash: () => '',
    },
    answers: { hash: async () => '', verify: async () => false },
    documents: createDocumentCipher(Buffer.alloc(32)),
    vault: {
      tokeniseCard: async () => ({ vaultToken: '' }),
      tokeniseBankAccount: async () => ({ vaultToken: '' }),
    },
    mailer: { send: async () => ({ ok: true, messageId: '' }) },
    sms: { send: async () => ({ ok: true, messageId: '' }) },
    confirmations: {
      publicBaseUrl: 'http://localhost',
      linkLifetimeDays: 30,
      support: { phone: '-', email: 'x@example.com' },
      linkSigner: { sign: () => '', verify: () => null },
    },
    policy: defaultPolicy(),
    clock: systemClock,
    ids: uuidV7Ids,
    isDatabaseReachable: async () => true,
    credentials: staffCredentialKit,
    secureCookies: 'auto',
  });
  await server.ready();
  return server;
}
