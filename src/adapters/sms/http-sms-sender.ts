import type { MailResult, SmsMessage, SmsSender } from '../../app/ports.ts';

/**
 * Sends through an HTTP SMS gateway: `POST <url>` with `{ "to": "+61…", "text": "…" }` and a bearer token.
 * Most providers accept this shape directly or through a small relay; a 4xx is a permanent refusal.
 */
export function createHttpSmsSender(config: { url: string; token: string; timeoutMs?: number }): SmsSender {
  return {
    async send(message: SmsMessage): Promise<MailResult> {
      try {
        const response = await fetch(config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${config.token}` },
          body: JSON.stringify({ to: message.to, text: message.text }),
          signal: AbortSignal.timeout(config.timeoutMs ?? 5000),
        });
        const body = (await response.json().catch(() => ({}))) as { id?: string };
        if (response.ok) return { ok: true, messageId: body.id ?? 'sms' };
        return {
          ok: false,
          error: `SMS gateway answered ${response.status}`,
          isPermanent: response.status >= 400 && response.status < 500,
        };
      } catch {
        return { ok: false, error: 'SMS gateway unreachable', isPermanent: false };
      }
    },
  };
}
