import { createHash, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { Secret, TOTP } from 'otpauth';
import type { StaffCredentialKit } from '../app/ports.ts';

// Algorithm.Argon2id; the package exports the enum as an ambient const, which this build cannot import.
const ARGON2ID = 2;
const TOTP_PERIOD_SECONDS = 30;

// Verified when the email is unknown, so an unknown address costs the same time as a wrong password.
const UNKNOWN_ACCOUNT_HASH = await hash(randomBytes(16).toString('hex'), { algorithm: ARGON2ID });

const totpFor = (secret: string, account = '') =>
  new TOTP({
    issuer: 'Amend',
    label: account,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD_SECONDS,
  });

/** argon2id passwords (OWASP minimum parameters), RFC 6238 TOTP codes, random session and CSRF tokens. */
export const staffCredentialKit: StaffCredentialKit = {
  hashPassword: (password) => hash(password, { algorithm: ARGON2ID }),
  verifyPassword: async (stored, password) =>
    (await verify(stored ?? UNKNOWN_ACCOUNT_HASH, password).catch(() => false)) && stored !== null,
  newPassword: () => randomBytes(18).toString('base64url'),
  newTotpSecret: () => new Secret({ size: 20 }).base32,
  totpUri: (secret, account) => totpFor(secret, account).toString(),
  // One period either side absorbs clock drift; the caller refuses a step already used (no replay).
  totpStep: (secret, code, now) => {
    const delta = totpFor(secret).validate({ token: code.trim(), timestamp: now.getTime(), window: 1 });
    return delta === null ? null : Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS) + delta;
  },
  totpCode: (secret, now) => totpFor(secret).generate({ timestamp: now.getTime() }),
  newToken: (prefix) => {
    const token = `${prefix}_${randomBytes(32).toString('base64url')}`;
    return { token, tokenHash: createHash('sha256').update(token).digest('hex') };
  },
  tokenHash: (token) => createHash('sha256').update(token).digest('hex'),
};
