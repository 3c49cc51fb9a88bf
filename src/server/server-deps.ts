import type {
  AnswerHasher,
  DocumentCipher,
  MailSender,
  SmsSender,
  Store,
  UseCaseContext,
  Vault,
} from '../app/ports.ts';

export interface ServerDeps extends UseCaseContext {
  readonly store: Store;
  /** For one-time codes sent straight away (confirmations go through the outbox). */
  readonly mailer: MailSender;
  readonly sms: SmsSender;
  readonly answers: AnswerHasher;
  readonly documents: DocumentCipher;
  readonly vault: Vault;
  readonly isDatabaseReachable: () => Promise<boolean>;
}
