import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id; the package exports the enum as an ambient const, which this build cannot import.
const ARGON2ID = 2;

import type { AnswerHasher } from '../app/ports.ts';

/** argon2id with the library's defaults (OWASP's minimum: 19 MiB, 2 iterations): slow for guessing, fine per check. */
export const argon2AnswerHasher: AnswerHasher = {
  hash: (answer) => hash(answer, { algorithm: ARGON2ID }),
  verify: (stored, answer) => verify(stored, answer).catch(() => false),
};
