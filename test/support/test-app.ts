import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { argon2AnswerHasher } from '../../src/adapters/answer-hasher.ts';
import { apiKeyIssuer } from '../../src/adapters/api-keys.ts';
import { createAuditSigner, sha256Hex } from '../../src/adapters/audit-signer.ts';
import { calendarsFor } from '../../src/adapters/calendars.ts';
import { createDocumentCipher } from '../../src/adapters/document-cipher.ts';
import { createFieldCipher } from '../../src/adapters/field-cipher.ts';
import { createLinkSigner } from '../../src/adapters/link-signer.ts';
import { createMailCatcher } from '../../src/adapters/mail/mail-catcher.ts';
import { createOneTimeCodes } from '../../src/adapters/one-time-codes.ts';
import { DEFAULT_POLICY_FILE, loadPolicyFile } from '../../src/adapters/policy-file.ts';
import { createCatcherSmsSender } from '../../src/adapters/sms/catcher-sms-sender.ts';
import { staffCredentialKit } from '../../src/adapters/staff-credentials.ts';
import { uuidV7Ids } from '../../src/adapters/system-clock.ts';
import { createDevelopmentVault } from '../../src/adapters/vault/development-vault.ts';
import { enrolIntegration } from '../../src/app/enrol-integration.ts';
import type { Clock, FieldCipher, MailSender, Store } from '../../src/app/ports.ts';
import { registerCustomers } from '../../src/app/register-customers.ts';
import { enrolStaffMember } from '../../src/app/staff-sign-in.ts';
import type { Action } from '../../src/core/access-matrix.ts';
import { type NewCustomerInput, newCustomer } from '../../src/core/customer-fns.ts';
import type { Customer } from '../../src/core/customer-types.ts';
import type { Policy } from '../../src/core/policy-types.ts';
import { buildServer } from '../../src/server/http-server.ts';
import type { ServerDeps } from '../../src/server/server-deps.ts';
import type { AmendDatabase } from '../../src/store/database.ts';
import { createStore, isDatabaseReachable } from '../../src/store/store.ts';
import { openTestDatabase } from './test-database.ts';

/** A clock the test moves by hand. */
export function manualClock(start = '2026-11-02T09:00:00.000Z') {
  let now = Date.parse(start);
  return {
    now: () => new Date(now),
    advance: (ms: number) => {
      now += ms;
    },
    set: (iso: string) => {
      now = Date.parse(iso);
    },
  } satisfies Clock & Record<string, unknown>;
}

export const defaultPolicy = (): Policy => {
  const loaded = loadPolicyFile(DEFAULT_POLICY_FILE);
  if (!loaded.ok) throw new Error(loaded.error.message);
  return loaded.value;
};

export const testSigner = () =>
  createAuditSigner(
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );

/** A field cipher with fresh random keys (`k1` current). */
export const testCipher = (keys: Record<string, string> = { k1: randomBytes(32).toString('base64') }) =>
  createFieldCipher({
    current: Object.keys(keys).at(-1)!,
    keys,
    blindIndexKey: randomBytes(32).toString('base64'),
  });

export interface TestApp {
  readonly database: AmendDatabase & { url: string | null };
  readonly store: Store;
  /** The store's cipher, for a test that builds a store of its own over the same database. */
  readonly cipher: FieldCipher;
  readonly policy: Policy;
  readonly clock: ReturnType<typeof manualClock>;
  readonly deps: ServerDeps & { clock: ReturnType<typeof manualClock> };
  readonly server: FastifyInstance;
  readonly signer: ReturnType<typeof testSigner>;
  addCustomer(input?: Partial<NewCustomerInput>): Promise<Customer>;
  addStaff(
    role: 'representative' | 'team_lead' | 'manager' | 'auditor' | 'admin',
    name?: string,
  ): Promise<{ id: string; apiKey: string; email: string; password: string; totpSecret: string }>;
  addIntegration(name?: string, scopes?: readonly Action[] | null): Promise<{ id: string; apiKey: string }>;
  /** A self-service session for the customer (as if they had just signed in): its bearer token. */
  customerSession(customerId: string, minutes?: number): Promise<string>;
  /** An HTTP call to the real server (inject), authenticated with an API key. */
  call(
    apiKey: string,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

let customerCounter = 0;

/** Everything a test needs on a fresh database of the run's engine, with the real HTTP server (inject). */
export async function createTestApp(
  options: { policy?: Policy; mailer?: MailSender; cipher?: FieldCipher } = {},
): Promise<TestApp> {
  const database = await openTestDatabase();
  const cipher = options.cipher ?? testCipher();
  const store = createStore(database.db, sha256Hex, cipher);
  const policy = options.policy ?? defaultPolicy();
  const clock = manualClock();
  const deps = {
    store,
    policy,
    clock,
    ids: uuidV7Ids,
    calendars: calendarsFor(policy),
    confirmations: {
      publicBaseUrl: 'http://amend.test',
      linkLifetimeDays: 30,
      support: { phone: '1300 555 010', email: 'help@amend.test' },
      linkSigner: createLinkSigner(randomBytes(32)),
    },
    isDatabaseReachable: () => isDatabaseReachable(database.db),
    // The built-in catcher unless a test brings a real SMTP server.
    mailer: options.mailer ?? createMailCatcher({ store, ids: uuidV7Ids, clock }),
    sms: createCatcherSmsSender({ store, ids: uuidV7Ids, clock }),
    codes: createOneTimeCodes(randomBytes(32)),
    answers: argon2AnswerHasher,
    documents: createDocumentCipher(randomBytes(32)),
    vault: createDevelopmentVault({ store, clock }),
    credentials: staffCredentialKit,
    secureCookies: 'auto' as const,
  };
  const server = await buildServer(deps);
  const enrolDeps = { store, clock, ids: uuidV7Ids, keys: apiKeyIssuer, credentials: staffCredentialKit };
  return {
    database,
    store,
    cipher,
    policy,
    clock,
    deps,
    server,
    signer: testSigner(),
    addCustomer: async (input = {}) => {
      customerCounter += 1;
      const built = newCustomer(
        {
          legalName: 'Ana María López',
          email: `ana.lopez.${customerCounter}.${Date.now()}@example.com`,
          phone: '+61412345678',
          postalAddress: {
            lines: ['12 Example Street'],
            locality: 'Carlton',
            region: 'VIC',
            postcode: '3053',
            country: 'AU',
          },
          dateOfBirth: '1984-03-09',
          communicationPreferences: { email: true, sms: false, post: true, phone: false },
          ...input,
        },
        { id: uuidV7Ids.newId(), now: clock.now().toISOString(), source: 'test' },
      );
      if (!built.ok) throw new Error(JSON.stringify(built.error));
      await store.transaction((tx) =>
        registerCustomers(tx, [built.value], { kind: 'system', id: 'test', role: null }, 'test'),
      );
      return built.value;
    },
    addStaff: async (role, name) => {
      const enrolled = await enrolStaffMember(enrolDeps, {
        email: `${role}.${uuidV7Ids.newId()}@amend.test`,
        displayName: name ?? `Test ${role}`,
        role,
      });
      if (!enrolled.ok) throw new Error(enrolled.error.message);
      return {
        id: enrolled.value.user.id,
        apiKey: enrolled.value.apiKey,
        email: enrolled.value.user.email,
        password: enrolled.value.initialPassword,
        totpSecret: enrolled.value.totpSecret,
      };
    },
    addIntegration: (name = 'test integration', scopes = null) => enrolIntegration(enrolDeps, name, scopes),
    customerSession: async (customerId, minutes = 30) => {
      const session = deps.codes.newSessionToken();
      const now = clock.now();
      await store.insertCustomerSession({
        id: uuidV7Ids.newId(),
        customerId,
        tokenHash: session.tokenHash,
        authenticatedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + minutes * 60_000).toISOString(),
      });
      return session.token;
    },
    call: (apiKey, method, url, payload, headers = {}) =>
      server.inject({
        method,
        url,
        payload: payload as object,
        headers: { authorization: `Bearer ${apiKey}`, ...headers },
      }),
    close: async () => {
      await server.close();
      await database.close();
    },
  };
}
