import type { Clock, IdSource, MailMessage, MailResult, MailSender, Store } from '../../app/ports.ts';

/**
 * The embedded default's mail server: keeps every outgoing message in the database, viewable at
 * `GET /api/v1/mail`, so the demo and a trial work without a mail server. A twin of the SMTP mailer.
 */
export function createMailCatcher(deps: {
  store: Pick<Store, 'catchMail'>;
  ids: IdSource;
  clock: Clock;
}): MailSender {
  return {
    async send(message: MailMessage): Promise<MailResult> {
      const id = deps.ids.newId();
      await deps.store.catchMail({ ...message, id, createdAt: deps.clock.now().toISOString() });
      return { ok: true, messageId: `<${id}@amend.mail-catcher>` };
    },
  };
}
