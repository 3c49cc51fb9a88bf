import { createHmac } from 'node:crypto';
import { Agent, type Dispatcher, errors, request } from 'undici';
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
 * The connection pool a connected system's requests share. undici's `request` rather than `fetch`: fetch's web
 * streams, request cloning and abort plumbing were a tenth of the embedded server's CPU under propagation load.
 * Each request still carries its own deadline (`AbortSignal.timeout`): undici's header and body timeouts tick
 * in whole seconds, so 300 ms of them waited a second.
 */
export function connectedSystemPool(timeoutMs: number): Dispatcher {
  return new Agent({ connect: { timeout: timeoutMs } });
}

const isTimeout = (error: unknown) =>
  (error instanceof Error && error.name === 'TimeoutError') || error instanceof errors.ConnectTimeoutError;

/**
 * Reads `{ fields: {...} }` (or a bare object of fields) from a read-back URL, signed like a delivery with an
 * empty body. Shared by every connector whose system offers an HTTP read-back.
 */
export async function readBackOverHttp(
  system: string,
  urlTemplate: string,
  secret: string,
  customerId: string,
  pool: Dispatcher,
  timeoutMs: number,
): Promise<ReadBackResult> {
  try {
    const response = await request(urlTemplate.replaceAll('{customerId}', encodeURIComponent(customerId)), {
      dispatcher: pool,
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        accept: 'application/json',
        'amend-signature': signWebhook(secret, Math.floor(Date.now() / 1000), ''),
      },
    });
    if (response.statusCode === 404) {
      await response.body.dump();
      return { ok: true, values: null };
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      await response.body.dump();
      return { ok: false, error: `${system}: read-back answered HTTP ${response.statusCode}` };
    }
    const body = (await response.body.json()) as { fields?: Record<string, unknown> } & Record<
      string,
      unknown
    >;
    if (body === null || typeof body !== 'object') return { ok: false, error: `${system}: read-back failed` };
    return { ok: true, values: body.fields && typeof body.fields === 'object' ? body.fields : body };
  } catch {
    return { ok: false, error: `${system}: read-back failed` };
  }
}

/** Pushes a change as a signed JSON POST. 2xx is delivered; the idempotency key lets the receiver dedupe retries. */
export function createWebhookConnector(config: WebhookSystemConfig): ConnectedSystem {
  const { readBackUrl } = config;
  const pool = connectedSystemPool(config.timeoutMs);
  return {
    id: config.id,
    kind: 'webhook',
    confirmation: readBackUrl ? 'read_back' : 'acknowledged',
    async deliver(message: ClaimedOutboxMessage): Promise<DeliveryResult> {
      const body = JSON.stringify({ ...message.payload, system: config.id });
      const timestamp = Math.floor(Date.now() / 1000);
      let status: number;
      try {
        const response = await request(config.url, {
          dispatcher: pool,
          signal: AbortSignal.timeout(config.timeoutMs),
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'amend-signature': signWebhook(config.secret, timestamp, body),
            'idempotency-key': `${message.changeRequestId ?? message.id}:${config.id}`,
            'amend-sequence': String(message.sequence),
          },
          body,
        });
        status = response.statusCode;
        // The answer's status is the outcome; its body is only read off so the connection can be reused.
        await response.body.dump().catch(() => {});
      } catch (error) {
        const reason = isTimeout(error) ? `no answer within ${config.timeoutMs} ms` : 'connection failed';
        return { ok: false, error: `${config.id}: ${reason}`, isPermanent: false };
      }
      if (status >= 200 && status < 300) return { ok: true };
      const isPermanent = status >= 400 && status < 500 && !RETRYABLE_CLIENT_STATUSES.has(status);
      return { ok: false, error: `${config.id}: HTTP ${status}`, isPermanent };
    },
    ...(readBackUrl
      ? {
          readBack: (customerId: string) =>
            readBackOverHttp(config.id, readBackUrl, config.secret, customerId, pool, config.timeoutMs),
        }
      : {}),
    close: () => pool.close(),
  };
}
