import type { FieldCipher } from '../app/ports.ts';

/**
 * A JSON value stored sealed in a jsonb column (AES-256-GCM, `FieldCipher`): `{ "$sealed": ciphertext }`, bound
 * to its owner (the row's customer or request), so copied onto another row it does not open.
 */
export interface SealedJson {
  readonly $sealed: string;
}

export const isSealedJson = (value: unknown): value is SealedJson =>
  typeof value === 'object' && value !== null && typeof (value as SealedJson).$sealed === 'string';

export const sealJson = (cipher: FieldCipher, value: unknown, owner: string): SealedJson => ({
  $sealed: cipher.seal(JSON.stringify(value), owner),
});

/** The value `sealJson` sealed; a value stored before its column was sealed passes as it is. */
export const openJson = <T>(cipher: FieldCipher, stored: unknown, owner: string): T =>
  (isSealedJson(stored) ? JSON.parse(cipher.open(stored.$sealed, owner)) : stored) as T;
