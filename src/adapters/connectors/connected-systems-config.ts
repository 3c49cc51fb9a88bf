import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import type { ConnectedSystem } from '../../app/ports.ts';
import type { Policy } from '../../core/policy-types.ts';
import { fail, ok, type Result } from '../../core/result.ts';
import { createWebhookConnector } from './webhook/webhook-connector.ts';

const WebhookSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/),
  kind: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/ }),
  /** The shared HMAC secret, or `env:NAME` to read it from the environment. */
  secret: z.string().min(1),
  timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
});

export const ConnectedSystemsFileSchema = z.strictObject({
  systems: z.array(z.discriminatedUnion('kind', [WebhookSchema])),
});
export type ConnectedSystemsFile = z.infer<typeof ConnectedSystemsFileSchema>;

/**
 * Builds the connectors from a declaration, and checks it against the policy: every system a field names
 * must be declared, or a change would silently miss it (the procedure's commonest mistake).
 */
export function buildConnectedSystems(
  declaration: unknown,
  policy: Policy,
  origin: string,
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
  const systems = new Map<string, ConnectedSystem>();
  for (const [index, system] of parsed.data.systems.entries()) {
    const secret = system.secret.startsWith('env:') ? env[system.secret.slice(4)] : system.secret;
    if (!secret)
      return fail(
        'CONFIG.INVALID',
        `${origin}: systems.${index}.secret names ${system.secret}, which is not set.`,
      );
    systems.set(system.id, createWebhookConnector({ ...system, secret }));
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

export function loadConnectedSystemsFile(path: string, policy: Policy): Result<Map<string, ConnectedSystem>> {
  let document: unknown;
  try {
    document = YAML.parse(readFileSync(path, 'utf8'));
  } catch {
    return fail(
      'CONFIG.INVALID',
      `Cannot read connected systems from ${path}; check AMEND_CONNECTED_SYSTEMS_FILE.`,
    );
  }
  return buildConnectedSystems(document, policy, path);
}
