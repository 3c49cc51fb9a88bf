import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { type DataKeyFile, DataKeyFileSchema } from '../adapters/field-cipher.ts';
import { DEFAULT_POLICY_FILE } from '../adapters/policy-file.ts';
import { fail, ok, type Result } from '../core/result.ts';

const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'Use a postgres:// URL, or unset it to use the embedded database.')
    .optional(),
  AMEND_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  AMEND_DATA_DIR: z.string().min(1).default('./data'),
  AMEND_POLICY_FILE: z.string().min(1).default(DEFAULT_POLICY_FILE),
  AMEND_CONNECTED_SYSTEMS_FILE: z.string().min(1).optional(),
  AMEND_AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  AMEND_AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  SMTP_URL: z
    .string()
    .regex(
      /^smtps?:\/\//,
      'Use an smtp:// or smtps:// URL, or unset it to keep mail in the built-in catcher.',
    )
    .optional(),
  AMEND_MAIL_FROM: z.string().min(3).default('Amend <no-reply@amend.localhost>'),
  AMEND_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  AMEND_SUPPORT_PHONE: z.string().min(3).default('1300 000 000'),
  AMEND_SUPPORT_EMAIL: z.email().default('support@example.com'),
  AMEND_NOT_ME_LINK_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  AMEND_LINK_SIGNING_KEY_FILE: z.string().min(1).optional(),
  AMEND_DOCUMENT_KEY_FILE: z.string().min(1).optional(),
  AMEND_DATA_KEYS_FILE: z.string().min(1).optional(),
  AMEND_DATA_KEYS: z
    .string()
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({
          code: 'custom',
          message: 'Must be the JSON of a data keys file (see SECURITY.md).',
        });
        return z.NEVER;
      }
    })
    .pipe(DataKeyFileSchema)
    .optional(),
  AMEND_SECURE_COOKIES: z.enum(['auto', 'always']).default('auto'),
  AMEND_TRUST_PROXY: z
    .string()
    .transform((text, context): string[] => {
      const addresses = text.split(',').map((address) => address.trim());
      for (const address of addresses) {
        const [ip, bits, ...rest] = address.split('/');
        const family = isIP(ip ?? '');
        const maxBits = family === 6 ? 128 : 32;
        if (
          !family ||
          rest.length > 0 ||
          (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))
        )
          context.addIssue({
            code: 'custom',
            message: `"${address}" is not an address or CIDR range: give the proxies' addresses or ranges, e.g. 127.0.0.1,10.0.0.0/8.`,
          });
      }
      return addresses;
    })
    .optional(),
  AMEND_WORKER_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  AMEND_SUBMISSIONS_PER_MINUTE_PER_ADDRESS: z.coerce.number().int().min(1).default(600),
  AMEND_SUBMISSIONS_PER_HOUR_PER_CUSTOMER: z.coerce.number().int().min(1).default(30),
  SMS_GATEWAY_URL: z.url({ protocol: /^https?$/ }).optional(),
  SMS_GATEWAY_TOKEN: z.string().min(1).optional(),
  AMEND_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly poolSize: number;
  readonly dataDir: string;
  readonly policyFile: string;
  readonly connectedSystemsFile: string | undefined;
  readonly signingKeyFile: string;
  readonly checkpointIntervalMs: number;
  readonly logLevel: string;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly publicUrl: string;
  readonly support: { phone: string; email: string };
  readonly notMeLinkDays: number;
  readonly linkKeyFile: string;
  readonly smsGateway: { url: string; token: string } | null;
  readonly documentKeyFile: string;
  /** The data keys: from AMEND_DATA_KEYS when set, else this file (created on first use). */
  readonly dataKeys: DataKeyFile | null;
  readonly dataKeysFile: string;
  /** `always` marks the staff session cookie Secure even behind a proxy that speaks HTTP to Amend. */
  readonly secureCookies: 'auto' | 'always';
  /**
   * The reverse proxies whose X-Forwarded-For/-Proto to believe (addresses or CIDR ranges); none by default, so
   * a client cannot claim another address.
   */
  readonly trustProxy: string[] | false;
  readonly submissionLimits: { perMinutePerAddress: number; perHourPerCustomer: number };
  /** How long a worker holds a claimed outbox row; a crashed worker's rows are taken over after this. */
  readonly workerLeaseMs: number;
}

/** Reads the configuration from the environment; an error names the variable and what to set it to. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Result<Config> {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success)
    return fail(
      'CONFIG.INVALID',
      `Invalid configuration:\n${parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`).join('\n')}`,
      {
        errors: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      },
    );
  const values = parsed.data;
  return ok({
    port: values.PORT,
    host: values.HOST,
    databaseUrl: values.DATABASE_URL,
    poolSize: values.AMEND_DB_POOL_SIZE,
    dataDir: values.AMEND_DATA_DIR,
    policyFile: values.AMEND_POLICY_FILE,
    connectedSystemsFile: values.AMEND_CONNECTED_SYSTEMS_FILE,
    signingKeyFile:
      values.AMEND_AUDIT_SIGNING_KEY_FILE ?? join(values.AMEND_DATA_DIR, 'keys', 'audit-signing-key.pem'),
    checkpointIntervalMs: values.AMEND_AUDIT_CHECKPOINT_INTERVAL_MS,
    logLevel: values.AMEND_LOG_LEVEL,
    smtpUrl: values.SMTP_URL,
    mailFrom: values.AMEND_MAIL_FROM,
    publicUrl: (values.AMEND_PUBLIC_URL ?? `http://${values.HOST}:${values.PORT}`).replace(/\/$/, ''),
    support: { phone: values.AMEND_SUPPORT_PHONE, email: values.AMEND_SUPPORT_EMAIL },
    notMeLinkDays: values.AMEND_NOT_ME_LINK_DAYS,
    linkKeyFile:
      values.AMEND_LINK_SIGNING_KEY_FILE ?? join(values.AMEND_DATA_DIR, 'keys', 'link-signing.key'),
    documentKeyFile: values.AMEND_DOCUMENT_KEY_FILE ?? join(values.AMEND_DATA_DIR, 'keys', 'document.key'),
    dataKeys: values.AMEND_DATA_KEYS ?? null,
    dataKeysFile: values.AMEND_DATA_KEYS_FILE ?? join(values.AMEND_DATA_DIR, 'keys', 'data-keys.json'),
    secureCookies: values.AMEND_SECURE_COOKIES,
    trustProxy: values.AMEND_TRUST_PROXY ?? false,
    workerLeaseMs: values.AMEND_WORKER_LEASE_MS,
    submissionLimits: {
      perMinutePerAddress: values.AMEND_SUBMISSIONS_PER_MINUTE_PER_ADDRESS,
      perHourPerCustomer: values.AMEND_SUBMISSIONS_PER_HOUR_PER_CUSTOMER,
    },
    smsGateway: values.SMS_GATEWAY_URL
      ? { url: values.SMS_GATEWAY_URL, token: values.SMS_GATEWAY_TOKEN ?? '' }
      : null,
  });
}
