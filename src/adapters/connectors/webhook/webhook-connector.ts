import { createHmac } from 'node:crypto';
import type {
  ClaimedOutboxMessage,
  ConnectedSystem,
  DeliveryResult,
  ReadBackResult,
} from '../../../app/ports.ts';

export interface WebhookSystemConfig {
  readonly id: string;
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
  /** GET URL answering what the system holds for a customer; `{customerId}` is replaced. */
  readonly readBackUrl?: string | undefined;
}

/**
 * `Amend-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>`.
 * A receiver recomputes it over the raw body and refuses timestamps older than a few minutes (replay).
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

// Statuses that may succeed if retried; any other 4xx means the receiver refuses this message as it is.
const RETRYABLE_CLIENT_STATUSES = new Set([408, 409, 425, 429]);

/**
 * Reads `{ fields: {...} }` (or a bare object of fields) from a read-back URL, signed like a delivery with an
 * empty body. Shared by every connector whose system offers an HTTP read-back.
 */
export async function readBackOverHttp(
  system: string,
  urlTemplate: string,
  secret: string,
  customerId: string,
  timeoutMs: number,
): Promise<ReadBackResult> {
  try {
    const response = await fetch(urlTemplate.replaceAll('{customerId}', encodeURIComponent(customerId)), {
      headers: {
        accept: 'application/json',
        'amend-signature': signWebhook(secret, Math.floor(Date.now() / 1000), ''),
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 404) {
      await response.body?.cancel().catch(() => {});
      return { ok: true, values: null };
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      return { ok: false, error: `${system}: read-back answered HTTP ${response.status}` };
    }
    const body = (await response.json()) as { fields?: Record<string, unknown> } & Record<string, unknown>;
    return { ok: true, values: body.fields && typeof body.fields === 'object' ? body.fields : body };
  } catch {
    return { ok: false, error: `${system}: read-back failed` };
  }
}

/** Pushes a change as a signed JSON POST. 2xx is delivered; the idempotency key lets the receiver dedupe retries. */
export function createWebhookConnector(config: WebhookSystemConfig): ConnectedSystem {
  const { readBackUrl } = config;
  return {
    id: config.id,
    kind: 'webhook',
    confirmation: readBackUrl ? 'read_back' : 'acknowledged',
    async deliver(message: ClaimedOutboxMessage): Promise<DeliveryResult> {
      const body = JSON.stringify({ ...message.payload, system: config.id });
      const timestamp = Math.floor(Date.now() / 1000);
      let response: Response;
      try {
        response = await fetch(config.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'amend-signature': signWebhook(config.secret, timestamp, body),
            'idempotency-key': `${message.changeRequestId ?? message.id}:${config.id}`,
            'amend-sequence': String(message.sequence),
          },
          body,
          signal: AbortSignal.timeout(config.timeoutMs),
        });
      } catch (error) {
        const reason =
          error instanceof Error && error.name === 'TimeoutError'
            ? `no answer within ${config.timeoutMs} ms`
            : 'connection failed';
        return { ok: false, error: `${config.id}: ${reason}`, isPermanent: false };
      }
      await response.body?.cancel().catch(() => {});
      if (response.ok) return { ok: true };
      const isPermanent =
        response.status >= 400 && response.status < 500 && !RETRYABLE_CLIENT_STATUSES.has(response.status);
      return { ok: false, error: `${config.id}: HTTP ${response.status}`, isPermanent };
    },
    ...(readBackUrl
      ? {
          readBack: (customerId: string) =>
            readBackOverHttp(config.id, readBackUrl, config.secret, customerId, config.timeoutMs),
        }
      : {}),
  };
}
