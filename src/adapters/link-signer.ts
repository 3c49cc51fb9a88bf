import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LinkSigner } from '../app/ports.ts';

/**
 * Tokens are `<link id>.<base64url HMAC-SHA256 of the id>`: an altered id or signature fails. Expiry and single
 * use are kept in the database, where they can be changed without reissuing keys.
 */
export function createLinkSigner(key: Buffer): LinkSigner {
  const mac = (id: string) => createHmac('sha256', key).update(`not-me:${id}`).digest();
  return {
    sign: (linkId) => `${linkId}.${mac(linkId).toString('base64url')}`,
    verify: (token) => {
      const [id, signature, ...rest] = token.split('.');
      if (!id || !signature || rest.length > 0 || !/^[0-9a-f-]{36}$/.test(id)) return null;
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(id);
      return given.length === expected.length && timingSafeEqual(given, expected) ? id : null;
    },
  };
}

/**
 * Reads a 32-byte secret key file (links, codes, documents), creating it (random, mode 0600) on first use. A file
 * that does not hold 32 bytes of base64 (emptied, truncated, edited) is refused: read as it is, an empty key
 * would sign links anyone could forge.
 */
export function loadOrCreateSecretKey(path: string): Buffer {
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    const key = Buffer.from(text, 'base64');
    if (key.length !== 32 || key.toString('base64') !== text)
      throw new Error(
        `The key file ${path} does not hold a 32-byte key in base64 (it holds ${key.length} bytes). Restore it from a backup; a new key would invalidate what the old one signed or sealed.`,
      );
    return key;
  }
  mkdirSync(dirname(path), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(path, key.toString('base64'), { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}
