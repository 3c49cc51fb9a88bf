import { readFileSync } from 'node:fs';
import { createDocumentCipher } from '../../src/adapters/document-cipher.ts';
import { staffCredentialKit } from '../../src/adapters/staff-credentials.ts';
import { systemClock, uuidV7Ids } from '../../src/adapters/system-clock.ts';
import type { Store } from '../../src/app/ports.ts';
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
  const document = server.swagger();
  await server.close();
  return document;
}
