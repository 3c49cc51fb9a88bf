import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomFillSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { FieldCipher } from '../app/ports.ts';

const Base64Key = z
  .string()
  .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64-encoded');

/**
 * The data keys file: every key that may still be needed to read a value (`keys`), the one new values are
 * sealed with (`current`), and the separate key of the blind indexes. It lives outside the database.
 */
export const DataKeyFileSchema = z.strictObject({
  current: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
  keys: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/), Base64Key),
  blindIndexKey: Base64Key,
});
export type DataKeyFile = z.infer<typeof DataKeyFileSchema>;

/**
 * A value this process's data keys cannot open: sealed under a key id they do not hold (a key removed), or under
 * another key of the same id (another server's own keys file) or altered since.
 */
export class DataKeyMissing extends Error {
  constructor(
    readonly keyId: string,
    readonly isIdKnown = false,
  ) {
    super(
      isIdKnown
        ? `Sealed with a data key "${keyId}" other than this process's "${keyId}", or altered since.`
        : `Sealed with data key "${keyId}", which the data keys file no longer holds.`,
    );
  }
}

const IV_BYTES = 12;
const IVS_PER_FILL = 1024;

/**
 * Fresh random IVs cut from a buffer the CSPRNG refills every 1,024 values: one call into OpenSSL per value cost a
 * bulk import more than the encryption. Each IV is used once; the buffer is never handed out twice.
 */
function ivSource(): () => Buffer {
  const pool = Buffer.alloc(IV_BYTES * IVS_PER_FILL);
  let next = pool.length;
  return () => {
    if (next === pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    const iv = Buffer.from(pool.subarray(next, next + IV_BYTES));
    next += IV_BYTES;
    return iv;
  };
}

/**
 * AES-256-GCM per value: `v1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts). The additional data binds each
 * value to its owner (the customer's id), so a ciphertext copied onto another row does not open. Blind indexes
 * are HMAC-SHA256 under their own key: equality lookups (email, phone) without storing the value.
 */
export function createFieldCipher(keyFile: DataKeyFile): FieldCipher {
  const keys = new Map(Object.entries(keyFile.keys).map(([id, key]) => [id, Buffer.from(key, 'base64')]));
  const current = keys.get(keyFile.current);
  if (!current)
    throw new Error(`The data keys file names current key "${keyFile.current}" but does not hold it.`);
  const indexKey = Buffer.from(keyFile.blindIndexKey, 'base64');
  const nextIv = ivSource();
  return {
    currentKeyId: keyFile.current,
    seal: (plaintext, owner) => {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      cipher.setAAD(Buffer.from(owner, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', keyFile.current, iv, ciphertext, cipher.getAuthTag()]
        .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
        .join('.');
    },
    open: (sealed, owner) => {
      const [version, keyId, iv, ciphertext, tag, ...rest] = sealed.split('.');
      if (version !== 'v1' || !keyId || !iv || ciphertext === undefined || !tag || rest.length > 0)
        throw new Error('Not a sealed value.');
      const key = keys.get(keyId);
      if (!key) throw new DataKeyMissing(keyId);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(owner, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const opened = decipher.update(Buffer.from(ciphertext, 'base64url'));
      try {
        return Buffer.concat([opened, decipher.final()]).toString('utf8');
      } catch {
        throw new DataKeyMissing(keyId, true);
      }
    },
    keyIdOf: (sealed) => sealed.split('.')[1] ?? '',
    hasKey: (keyId) => keys.has(keyId),
    blindIndex: (kind, value) =>
      createHmac('sha256', indexKey).update(`${kind}:${value}`, 'utf8').digest('hex'),
  };
}

const RELOAD_CHECK_MS = 2_000;

/**
 * A field cipher over the data keys file that follows the file: when `amend keys rotate` adds a key, every
 * running server and worker starts sealing with it within seconds, and can open values sealed with it at once.
 */
export function createFileFieldCipher(path: string): FieldCipher {
  let inner = createFieldCipher(loadOrCreateDataKeys(path));
  let modifiedAt = statSync(path).mtimeMs;
  let checkedAt = Date.now();
  const reload = (isForced: boolean) => {
    if (!isForced && Date.now() - checkedAt < RELOAD_CHECK_MS) return;
    checkedAt = Date.now();
    const modified = statSync(path).mtimeMs;
    if (modified === modifiedAt) return;
    inner = createFieldCipher(loadOrCreateDataKeys(path));
    modifiedAt = modified;
  };
  return {
    get currentKeyId() {
      reload(false);
      return inner.currentKeyId;
    },
    seal: (plaintext, owner) => {
      reload(false);
      return inner.seal(plaintext, owner);
    },
    open: (sealed, owner) => {
      // A key this process has not seen yet was just added: look at the file now rather than fail.
      if (!inner.hasKey(inner.keyIdOf(sealed))) reload(true);
      return inner.open(sealed, owner);
    },
    keyIdOf: (sealed) => inner.keyIdOf(sealed),
    hasKey: (keyId) => inner.hasKey(keyId),
    blindIndex: (kind, value) => inner.blindIndex(kind, value),
  };
}

/** Reads the data keys file, creating one with a random first key (mode 0600) on first use. */
export function loadOrCreateDataKeys(path: string): DataKeyFile {
  if (!existsSync(path)) {
    const created: DataKeyFile = {
      current: 'k1',
      keys: { k1: randomBytes(32).toString('base64') },
      blindIndexKey: randomBytes(32).toString('base64'),
    };
    writeDataKeys(path, created);
    return created;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`The data keys file ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = DataKeyFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `The data keys file ${path} is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** Adds a new random key and makes it current; old keys stay, since existing values are sealed with them. */
export function addDataKey(path: string): { keyId: string; previous: string } {
  const file = loadOrCreateDataKeys(path);
  const numbers = Object.keys(file.keys).map((id) => Number(/^k(\d+)$/.exec(id)?.[1] ?? 0));
  const keyId = `k${Math.max(0, ...numbers) + 1}`;
  writeDataKeys(path, {
    ...file,
    current: keyId,
    keys: { ...file.keys, [keyId]: randomBytes(32).toString('base64') },
  });
  return { keyId, previous: file.current };
}

function writeDataKeys(path: string, file: DataKeyFile): void {
  mkdirSync(dirname(path), { recursive: true });
  // Written aside and renamed: a crash never leaves a half-written key file.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}
