import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyIssuer } from '../app/ports.ts';

/** API keys are stored as SHA-256 digests: a stolen database yields no usable key. 256 random bits need no slow hash. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

export const apiKeyIssuer: ApiKeyIssuer = {
  issue: () => {
    const key = `amk_${randomBytes(32).toString('base64url')}`;
    return { key, keyHash: hashApiKey(key) };
  },
};
