import { createHmac, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';

/** What a sample system holds per customer: the fields it received, and the last sequence applied. */
export interface HeldRecord {
  readonly fields: Record<string, unknown>;
  readonly sequence: number;
  readonly changeIds: string[];
}

export interface SampleSystemOptions {
  readonly name: string;
  readonly secret: string;
  /** Fault injection for tests: answer this status instead of accepting, while it returns a number. */
  readonly fault?: () => number | null;
  /** Fault injection for tests: delay before answering. */
  readonly delayMs?: () => number;
}

export interface SampleSystem {
  readonly server: FastifyInstance;
  readonly name: string;
  url(): string;
  readonly records: Map<string, HeldRecord>;
  /** Every accepted delivery, in arrival order, counting duplicates that were recognised and skipped. */
  readonly deliveries: { customerId: string; changeId: string; sequence: number; isDuplicate: boolean }[];
  close(): Promise<void>;
}

const MAX_SIGNATURE_AGE_SECONDS = 300;

/**
 * A small but honest connected system (billing, shipping, marketing in the demo): it checks the webhook
 * signature, applies each change once by idempotency key, ignores a sequence older than what it holds,
 * and shows its state at GET /customers/:id and GET /.
 */
export async function startSampleSystem(options: SampleSystemOptions, port = 0): Promise<SampleSystem> {
  const records = new Map<string, HeldRecord>();
  const seen = new Set<string>();
  const deliveries: SampleSystem['deliveries'] = [];
  const server = Fastify({ logger: false });
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );

  server.post('/hooks/amend', async (request, reply) => {
    const delay = options.delayMs?.() ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const status = options.fault?.();
    if (status) return reply.code(status).send({ error: 'injected fault' });
    const raw = request.body as string;
    const header = String(request.headers['amend-signature'] ?? '');
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    if (!match) return reply.code(401).send({ error: 'missing signature' });
    const expected = createHmac('sha256', options.secret).update(`${match[1]}.${raw}`).digest();
    const given = Buffer.from(match[2]!, 'hex');
    const age = Math.abs(Date.now() / 1000 - Number(match[1]));
    if (
      given.length !== expected.length ||
      !timingSafeEqual(given, expected) ||
      age > MAX_SIGNATURE_AGE_SECONDS
    )
      return reply.code(401).send({ error: 'bad signature' });
    const event = JSON.parse(raw) as {
      customerId: string;
      changeId: string;
      sequence: number;
      fields: Record<string, unknown>;
    };
    const key = String(request.headers['idempotency-key']);
    const isDuplicate = seen.has(key);
    deliveries.push({
      customerId: event.customerId,
      changeId: event.changeId,
      sequence: event.sequence,
      isDuplicate,
    });
    if (isDuplicate) return reply.code(200).send({ status: 'duplicate' });
    seen.add(key);
    const held = records.get(event.customerId);
    if (!held || event.sequence > held.sequence) {
      records.set(event.customerId, {
        fields: { ...(held?.fields ?? {}), ...event.fields },
        sequence: event.sequence,
        changeIds: [...(held?.changeIds ?? []), event.changeId],
      });
    }
    return reply.code(200).send({ status: 'applied' });
  });

  server.get('/customers/:id', async (request, reply) => {
    const held = records.get((request.params as { id: string }).id);
    return held ? held : reply.code(404).send({ error: 'unknown customer' });
  });
  server.get('/', async () => ({
    system: options.name,
    customers: records.size,
    deliveries: deliveries.length,
    latest: [...records.entries()].slice(-10).map(([customerId, held]) => ({ customerId, ...held })),
  }));

  await server.listen({ host: '127.0.0.1', port });
  const address = server.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    name: options.name,
    url: () => `http://127.0.0.1:${boundPort}`,
    records,
    deliveries,
    close: () => server.close(),
  };
}
