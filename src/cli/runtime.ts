import { argon2AnswerHasher } from '../adapters/answer-hasher.ts';
import { createAuditSigner, loadOrCreateSigningKey, sha256Hex } from '../adapters/audit-signer.ts';
import { calendarsFor } from '../adapters/calendars.ts';
import { createDocumentCipher } from '../adapters/document-cipher.ts';
import { createFieldCipher, createFileFieldCipher, DataKeyMissing } from '../adapters/field-cipher.ts';
import { createLinkSigner, loadOrCreateSecretKey } from '../adapters/link-signer.ts';
import { createMailCatcher } from '../adapters/mail/mail-catcher.ts';
import { createOneTimeCodes } from '../adapters/one-time-codes.ts';
import { loadPolicyFile } from '../adapters/policy-file.ts';
import { createCatcherSmsSender } from '../adapters/sms/catcher-sms-sender.ts';
import { createHttpSmsSender } from '../adapters/sms/http-sms-sender.ts';
import { staffCredentialKit } from '../adapters/staff-credentials.ts';
import { systemClock, uuidV7Ids } from '../adapters/system-clock.ts';
import { createDevelopmentVault } from '../adapters/vault/development-vault.ts';
import type {
  AnswerHasher,
  AuditSigner,
  Clock,
  ConfirmationSettings,
  DocumentCipher,
  FieldCipher,
  IdSource,
  MailSender,
  OneTimeCodes,
  SmsSender,
  StaffCredentialKit,
  Store,
  Vault,
} from '../app/ports.ts';
import { resealAll } from '../app/rotate-data-keys.ts';
import type { BusinessCalendar } from '../core/business-day-fns.ts';
import type { Policy } from '../core/policy-types.ts';
import { type DomainError, fail, ok, type Result } from '../core/result.ts';
import { DataFolderInUse } from '../store/data-folder-lock.ts';
import { type AmendDatabase, openDatabase } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { createStore } from '../store/store.ts';
import type { Config } from './config.ts';

/** Everything a process needs, wired once: the composition root shared by every command. */
export interface Runtime {
  readonly config: Config;
  readonly database: AmendDatabase;
  readonly store: Store;
  readonly policy: Policy;
  readonly signer: AuditSigner;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly calendars: ReadonlyMap<string, BusinessCalendar>;
  readonly confirmations: ConfirmationSettings;
  readonly mailer: MailSender;
  readonly sms: SmsSender;
  readonly codes: OneTimeCodes;
  readonly answers: AnswerHasher;
  readonly documents: DocumentCipher;
  readonly vault: Vault;
  readonly cipher: FieldCipher;
  readonly credentials: StaffCredentialKit;
  readonly secureCookies: 'auto' | 'always';
  close(): Promise<void>;
}

// Reaching the server failed: it is down, or the address is wrong.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);
// PostgreSQL's classes 57 (operator intervention: shutting down, starting up) and 08 (connection exceptions).
const UNAVAILABLE_STATE = /^(57P0[1-3]|08...)$/;

/**
 * What went wrong talking to PostgreSQL, said with its fix: the address, database, user or password in
 * DATABASE_URL, or a server that is down. Never the URL itself, which may hold a password. Null when the error is
 * not about reaching PostgreSQL.
 */
export function databaseFault(error: unknown, config: Pick<Config, 'databaseUrl'>): DomainError | null {
  if (!config.databaseUrl || !(error instanceof Error)) return null;
  const { code } = error as { code?: string };
  const url = new URL(config.databaseUrl);
  const server = `PostgreSQL at ${url.hostname || 'localhost'}:${url.port || '5432'}`;
  const database = decodeURIComponent(url.pathname.slice(1)) || '(the user name)';
  const user = decodeURIComponent(url.username) || '(the operating system user)';
  if (code && UNREACHABLE.has(code))
    return {
      code: 'SERVICE.UNAVAILABLE',
      message: `Cannot reach ${server} (${code}): start it, or fix the host and port in DATABASE_URL.`,
    };
  if (code === '3D000')
    return {
      code: 'CONFIG.INVALID',
      message: `${server} has no database "${database}": create it (createdb ${database}), or fix the database name in DATABASE_URL.`,
    };
  if (code === '28000' || code === '28P01')
    return {
      code: 'CONFIG.INVALID',
      message: `${server} refused user "${user}" (${error.message}): fix the user or password in DATABASE_URL.`,
    };
  if (code && UNAVAILABLE_STATE.test(code))
    return {
      code: 'SERVICE.UNAVAILABLE',
      message: `${server} is not taking connections (${error.message}); retry when it is up.`,
    };
  if (/Connection terminated|timeout exceeded when trying to connect/.test(error.message))
    return {
      code: 'SERVICE.UNAVAILABLE',
      message: `${server} closed the connection: ${error.message}; retry.`,
    };
  return null;
}

/** Loads a key file, or fails naming it: a damaged key is restored from a backup, never silently replaced. */
function readKey<T>(file: string, load: (file: string) => T): T {
  try {
    return load(file);
  } catch (error) {
    const message = (error as Error).message;
    throw new Error(
      message.includes(file)
        ? message
        : `Cannot use the key file ${file} (${message}); restore it from a backup.`,
    );
  }
}

export async function openRuntime(
  config: Config,
  options: {
    isMigrating: boolean;
    /**
     * Seal rows in clear (from before encryption at rest, with no blind index to find them by) or under a
     * retired key before going on: for processes that serve or add customers. A reading command skips it, as
     * the check reads the whole customer table (0.8 s a time on a million customers).
     */
    isResealing?: boolean;
  },
): Promise<Result<Runtime>> {
  const policy = loadPolicyFile(config.policyFile);
  if (!policy.ok) return policy;
  let database: AmendDatabase;
  try {
    database = await openDatabase({
      url: config.databaseUrl,
      dataDir: config.dataDir,
      poolSize: config.poolSize,
    });
    if (options.isMigrating) await migrate(database);
  } catch (error) {
    if (error instanceof DataFolderInUse) return fail('DATABASE.IN_USE', error.message);
    const fault = databaseFault(error, config);
    if (fault) return { ok: false, error: fault };
    const where = config.databaseUrl
      ? 'the PostgreSQL server in DATABASE_URL'
      : `the embedded database in ${config.dataDir}`;
    return fail(
      'SERVICE.UNAVAILABLE',
      `Cannot open ${where}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  let keys: { signer: ReturnType<typeof createAuditSigner>; link: Buffer; document: Buffer };
  try {
    keys = {
      signer: readKey(config.signingKeyFile, (file) => createAuditSigner(loadOrCreateSigningKey(file))),
      link: readKey(config.linkKeyFile, loadOrCreateSecretKey),
      document: readKey(config.documentKeyFile, loadOrCreateSecretKey),
    };
  } catch (error) {
    await database.close();
    return fail('CONFIG.INVALID', (error as Error).message);
  }
  const { signer } = keys;
  let cipher: FieldCipher;
  try {
    cipher = config.dataKeys
      ? createFieldCipher(config.dataKeys)
      : createFileFieldCipher(config.dataKeysFile);
  } catch (error) {
    await database.close();
    return fail('CONFIG.INVALID', (error as Error).message);
  }
  const store = createStore(database.db, sha256Hex, cipher);
  if (options.isResealing)
    try {
      // A process given its own keys file (a second server started without the first's) would name its key as
      // the first did and seal new customers under a key nobody else holds: one customer opened proves the key.
      await store.anyCustomerSealedUnder(cipher.currentKeyId);
      await resealAll(store, 'customer', () => {});
    } catch (error) {
      if (!(error instanceof DataKeyMissing)) throw error;
      await database.close();
      return fail(
        'CONFIG.INVALID',
        `The database holds values sealed with data key "${error.keyId}", which ${config.dataKeys ? 'AMEND_DATA_KEYS' : config.dataKeysFile} ${error.isIdKnown ? 'holds a different key under that name' : 'does not hold'}: give this process the data keys the others use (the same file, or AMEND_DATA_KEYS).`,
      );
    }
  // nodemailer loads only where mail goes out through SMTP.
  const smtp = config.smtpUrl
    ? (await import('../adapters/mail/smtp-mailer.ts')).createSmtpMailer(config.smtpUrl, config.mailFrom)
    : null;
  const linkKey = keys.link;
  return ok({
    config,
    database,
    store,
    cipher,
    credentials: staffCredentialKit,
    secureCookies: config.secureCookies,
    policy: policy.value,
    signer,
    clock: systemClock,
    ids: uuidV7Ids,
    calendars: calendarsFor(policy.value),
    confirmations: {
      publicBaseUrl: config.publicUrl,
      linkLifetimeDays: config.notMeLinkDays,
      support: config.support,
      linkSigner: createLinkSigner(linkKey),
    },
    codes: createOneTimeCodes(linkKey),
    answers: argon2AnswerHasher,
    documents: createDocumentCipher(keys.document),
    // A payment provider's vault plugs in here (the Vault port); until then, the development vault.
    vault: createDevelopmentVault({ store, clock: systemClock }),
    sms: config.smsGateway
      ? createHttpSmsSender(config.smsGateway)
      : createCatcherSmsSender({ store, ids: uuidV7Ids, clock: systemClock }),
    // Without SMTP_URL, mail stays in the built-in catcher (GET /api/v1/mail).
    mailer: smtp ?? createMailCatcher({ store, ids: uuidV7Ids, clock: systemClock }),
    close: async () => {
      smtp?.close();
      await database.close();
    },
  });
}
