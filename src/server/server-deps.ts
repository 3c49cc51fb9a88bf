import type {
  AnswerHasher,
  DocumentCipher,
  MailSender,
  SmsSender,
  StaffCredentialKit,
  Store,
  UseCaseContext,
  Vault,
} from '../app/ports.ts';
import type { SubmissionLimits } from './public-rate-limits.ts';

export interface ServerDeps extends UseCaseContext {
  readonly store: Store;
  /** For one-time codes sent straight away (confirmations go through the outbox). */
  readonly mailer: MailSender;
  readonly sms: SmsSender;
  readonly answers: AnswerHasher;
  readonly documents: DocumentCipher;
  readonly vault: Vault;
  readonly isDatabaseReachable: () => Promise<boolean>;
  readonly credentials: StaffCredentialKit;
  /** `always` marks the session cookie Secure even when a proxy speaks plain HTTP to Amend. */
  readonly secureCookies: 'auto' | 'always';
  /** Defaults to DEFAULT_SUBMISSION_LIMITS. */
  readonly submissionLimits?: SubmissionLimits;
}
