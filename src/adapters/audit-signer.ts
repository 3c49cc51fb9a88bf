import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditSigner } from '../app/ports.ts';

/** SHA-256 of UTF-8 text as lowercase hex: the audit chain's hash. */
export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

const keyIdOf = (publicKey: KeyObject): string =>
  createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);

/**
 * Ed25519 signer for audit checkpoints. The private key comes from a PEM file that is never in the database;
 * several servers on one PostgreSQL must share the same file. `extraPublicKeys` verify checkpoints signed
 * with earlier keys after a rotation.
 */
export function createAuditSigner(
  privateKeyPem: string,
  extraPublicKeys: readonly string[] = [],
): AuditSigner {
  const privateKey = createPrivateKey(privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  const verifiers = new Map<string, KeyObject>([[keyId, publicKey]]);
  for (const pem of extraPublicKeys) {
    const key = createPublicKey(pem);
    verifiers.set(keyIdOf(key), key);
  }
  return {
    keyId,
    sign: (text) => sign(null, Buffer.from(text, 'utf8'), privateKey).toString('base64'),
    verify: (text, signature, id) => {
      const key = verifiers.get(id);
      return key ? verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signature, 'base64')) : false;
    },
  };
}

/** Reads the signing key file, creating it (mode 0600) on first use. */
export function loadOrCreateSigningKey(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8');
  mkdirSync(dirname(path), { recursive: true });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(path, pem, { mode: 0o600 });
  chmodSync(path, 0o600);
  return pem;
}
