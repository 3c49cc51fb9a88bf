import nodemailer from 'nodemailer';
import type { MailMessage, MailResult, MailSender } from '../../app/ports.ts';

/**
 * Sends through an SMTP server (`SMTP_URL`, e.g. smtp://user:pass@mail.example:587). A 5xx answer is a
 * permanent refusal (bad address); anything else is retried through the outbox.
 */
export function createSmtpMailer(smtpUrl: string, from: string): MailSender & { close(): void } {
  const transport = nodemailer.createTransport(smtpUrl);
  return {
    async send(message: MailMessage): Promise<MailResult> {
      try {
        const info = await transport.sendMail({
          from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
        });
        if (info.rejected.length > 0)
          return { ok: false, error: 'the mail server refused the recipient', isPermanent: true };
        return { ok: true, messageId: info.messageId };
      } catch (error) {
        const code = (error as { responseCode?: number }).responseCode;
        return {
          ok: false,
          error: code ? `mail server answered ${code}` : 'mail server unreachable',
          isPermanent: code !== undefined && code >= 500,
        };
      }
    },
    close: () => transport.close(),
  };
}
