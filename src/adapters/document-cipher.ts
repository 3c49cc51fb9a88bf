import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DocumentCipher } from '../app/ports.ts';

/** AES-256-GCM with a key held outside the database (a key file); each document gets its own random IV. */
export function createDocumentCipher(key: Buffer): DocumentCipher {
  if (key.length !== 32) throw new Error('The document key must be 32 bytes.');
  const keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return {
    keyId,
    encrypt: (plaintext) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return { iv, ciphertext, authTag: cipher.getAuthTag() };
    },
    decrypt: (sealed) => {
      if (sealed.keyId !== keyId)
        throw new Error(`Document sealed with key ${sealed.keyId}, not the current key.`);
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
      decipher.setAuthTag(sealed.authTag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
    },
  };
}

export const sha256OfBytes = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
