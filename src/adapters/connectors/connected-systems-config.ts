import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import type { Clock, ConnectedSystem, IdSource, Store } from '../../app/ports.ts';
import type { Policy } from '../../core/policy-types.ts';
import { fail, ok, type Result } from '../../core/result.ts';
import { createManualConnector } from './manual/manual-connector.ts';
import { createNatsConnector } from './nats/nats-connector.ts';
import { createSqlConnector } from './sql/sql-connector.ts';
import { createWebhookConnector } from './webhook/webhook-connector.ts';

const SystemId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'Use lowercase letters, digits and hyphens, starting with a letter.');
const Identifier = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/,
    'Use a lowercase SQL identifier, optionally schema-qualified.',
  );
/** A secret inline, or `env:NAME` to read it from the environment. */
const Secret = z.string().min(1);
const ReadBackUrl = z
  .url({ protocol: /^https?$/ })
  .refine((url) => url.includes('{customerId}'), 'Put {customerId} where the customer id goes.');

const WebhookSchema = z.strictObject({
  id: SystemId,
  kind: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/ }),
  secret: Secret,
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  readBackUrl: ReadBackUrl.optional(),
});

const NatsSchema = z.strictObject({
  id: SystemId,
  kind: z.literal('nats'),
  servers: z.string().min(1).default('127.0.0.1:4222'),
  subject: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'Use a NATS subject such as amend.changes.marketing.'),
  stream: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  readBackUrl: ReadBackUrl.optional(),
  readBackSecret: Secret.optional(),
});

const SqlSchema = z.strictObject({
  id: SystemId,
  kind: z.literal('sql'),
  url: z
    .string()
    .regex(
      /^(postgres(ql)?:\/\/|pglite:\/\/)/,
      'Use a postgres:// URL (or pglite://<folder> for an embedded database).',
    ),
  table: Identifier,
  keyColumn: Identifier,
  sequenceColumn: Identifier,
  columns: z.record(
    z.string().regex(/^[a-zA-Z]+(\.[a-zA-Z]+)?$/, 'Use a field or field.part path.'),
    Identifier,
  ),
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
});

const ManualSchema = z.strictObject({ id: SystemId, kind: z.literal('manual') });

export const ConnectedSystemsFileSchema = z.strictObject({
  systems: z.array(z.discriminatedUnion('kind', [WebhookSchema, NatsSchema, SqlSchema, ManualSchema])),
});
/** A system as declared (in the file, or by the demo and tests): defaults may be left out. */
export type ConnectedSystemDeclaration = z.input<typeof ConnectedSystemsFileSchema>['systems'][number];

type ConnectorDeps = { store: Pick<Store, 'createManualTask'>; ids: IdSource; clock: Clock };

/**
 * Builds the connectors from a declaration, and checks it against the policy: every system a field names
 * must be declared, or a change would silently miss it (the procedure's commonest mistake).
 */
export function buildConnectedSystems(
  declaration: unknown,
  policy: Policy,
  origin: string,
  deps: ConnectorDeps,
  env: NodeJS.ProcessEnv = process.env,
): Result<Map<string, ConnectedSystem>> {
  const parsed = ConnectedSystemsFileSchema.safeParse(declaration);
  if (!parsed.success)
    return fail(
      'CONFIG.INVALID',
      `${origin} is invalid:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
      {
        errors: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    );
  const resolve = (secret: string | undefined) =>
    secret?.startsWith('env:') ? env[secret.slice(4)] : secret;
  const systems = new Map<string, ConnectedSystem>();
  for (const [index, system] of parsed.data.systems.entries()) {
    if (systems.has(system.id))
      return fail('CONFIG.INVALID', `${origin}: systems.${index}.id "${system.id}" is declared twice.`);
    switch (system.kind) {
      case 'webhook': {
        const secret = resolve(system.secret);
        if (!secret)
          return fail(
            'CONFIG.INVALID',
            `${origin}: systems.${index}.secret names ${system.secret}, which is not set.`,
          );
        systems.set(system.id, createWebhookConnector({ ...system, secret }));
        break;
      }
      case 'nats':
        systems.set(
          system.id,
          createNatsConnector({ ...system, readBackSecret: resolve(system.readBackSecret) }),
        );
        break;
      case 'sql':
        systems.set(system.id, createSqlConnector(system));
        break;
      case 'manual':
        systems.set(system.id, createManualConnector(system, deps));
        break;
    }
  }
  const undeclared = Object.entries(policy.fields).flatMap(([field, rule]) =>
    rule.connectedSystems.filter((id) => !systems.has(id)).map((id) => `fields.${field} names "${id}"`),
  );
  if (undeclared.length > 0)
    return fail(
      'CONFIG.INVALID',
      `The policy names connected systems that ${origin} does not declare: ${[...new Set(undeclared)].join('; ')}. Declare them, or remove them from the policy.`,
    );
  return ok(systems);
}

export function loadConnectedSystemsFile(
  path: string,
  policy: Policy,
  deps: ConnectorDeps,
): Result<Map<string, ConnectedSystem>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return fail(
      'CONFIG.INVALID',
      `Cannot read connected systems from ${path}: no such file or not readable; check AMEND_CONNECTED_SYSTEMS_FILE.`,
    );
  }
  let document: unknown;
  try {
    document = YAML.parse(text);
  } catch (error) {
    // The parser's first line names the fault and where it is (line and column).
    const detail = error instanceof Error ? error.message.split('\n')[0]!.replace(/:$/, '') : 'unreadable';
    return fail('CONFIG.INVALID', `The connected systems file ${path} is not valid YAML or JSON: ${detail}`);
  }
  return buildConnectedSystems(document, policy, path, deps);
}
