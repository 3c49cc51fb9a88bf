import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { OneTimeCodes } from '../app/ports.ts';

/** Six random digits; stored as an HMAC keyed with a server secret and bound to the challenge id. */
export function createOneTimeCodes(key: Buffer): OneTimeCodes {
  const hash = (challengeId: string, code: string) =>
    createHmac('sha256', key).update(`otp:${challengeId}:${code}`).digest('hex');
  return {
    newCode: () => String(randomInt(0, 1_000_000)).padStart(6, '0'),
    hash,
    newSessionToken: () => {
      const token = `cst_${randomBytes(32).toString('base64url')}`;
      return { token, tokenHash: createHash('sha256').update(token).digest('hex') };
    },
    sessionTokenHash: (token) => createHash('sha256').update(token).digest('hex'),
    matches: (challengeId, code, stored) => {
      const given = Buffer.from(hash(challengeId, code), 'hex');
      const expected = Buffer.from(stored, 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
