import type { Clock, IdSource, SmsMessage, SmsSender, Store } from '../../app/ports.ts';

/** Development SMS: the message goes into the mail catcher (subject "SMS"), viewable at GET /api/v1/mail. */
export function createCatcherSmsSender(deps: {
  store: Pick<Store, 'catchMail'>;
  ids: IdSource;
  clock: Clock;
}): SmsSender {
  return {
    async send(message: SmsMessage) {
      const id = deps.ids.newId();
      await deps.store.catchMail({
        id,
        createdAt: deps.clock.now().toISOString(),
        to: message.to,
        subject: 'SMS',
        text: message.text,
        html: '',
        changeRequestId: null,
      });
      return { ok: true, messageId: `<${id}@amend.sms-catcher>` };
    },
  };
}
