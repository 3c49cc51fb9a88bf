import { createHmac, timingSafeEqual } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import Fastify, { type FastifyInstance } from 'fastify';

/** What a sample system holds per customer: the fields it received, and the last sequence applied. */
export interface HeldRecord {
  readonly fields: Record<string, unknown>;
  readonly sequence: number;
  readonly changeIds: string[];
}

export interface ChangeEvent {
  readonly customerId: string;
  readonly changeId: string;
  readonly sequence: number;
  readonly fields: Record<string, unknown>;
}

export interface SampleSystem {
  readonly server: FastifyInstance;
  readonly name: string;
  url(): string;
  readonly records: Map<string, HeldRecord>;
  /** Every delivery received, in arrival order, with duplicates that were recognised and skipped. */
  readonly deliveries: { customerId: string; changeId: string; sequence: number; isDuplicate: boolean }[];
  close(): Promise<void>;
}

const MAX_SIGNATURE_AGE_SECONDS = 300;

/** The receiving side every sample system shares: apply each change once by key, never an older sequence over a newer. */
function createReceiver() {
  const records = new Map<string, HeldRecord>();
  const seen = new Set<string>();
  const deliveries: SampleSystem['deliveries'] = [];
  const receive = (event: ChangeEvent, key: string): 'applied' | 'duplicate' => {
    const isDuplicate = seen.has(key);
    deliveries.push({
      customerId: event.customerId,
      changeId: event.changeId,
      sequence: event.sequence,
      isDuplicate,
    });
    if (isDuplicate) return 'duplicate';
    seen.add(key);
    const held = records.get(event.customerId);
    // At least the held sequence: an equal one is a re-push of current values (reconcile, replay), never older.
    if (!held || event.sequence >= held.sequence)
      records.set(event.customerId, {
        fields: { ...(held?.fields ?? {}), ...event.fields },
        sequence: event.sequence,
        changeIds: [...(held?.changeIds ?? []), event.changeId],
      });
    return 'applied';
  };
  return { records, deliveries, receive };
}

/** GET /customers/:id (the read-back Amend uses) and GET / (a summary to look at). */
async function serveState(
  name: string,
  records: Map<string, HeldRecord>,
  deliveries: SampleSystem['deliveries'],
  server: FastifyInstance,
  port: number,
) {
  server.get('/customers/:id', async (request, reply) => {
    const held = records.get((request.params as { id: string }).id);
    return held ? held : reply.code(404).send({ error: 'unknown customer' });
  });
  server.get('/', async () => ({
    system: name,
    customers: records.size,
    deliveries: deliveries.length,
    latest: [...records.entries()].slice(-10).map(([customerId, held]) => ({ customerId, ...held })),
  }));
  await server.listen({ host: '127.0.0.1', port });
  const address = server.server.address();
  return typeof address === 'object' && address ? address.port : port;
}

export interface SampleSystemOptions {
  readonly name: string;
  readonly secret: string;
  /** Fault injection for tests: answer this status instead of accepting, while it returns a number. */
  readonly fault?: () => number | null;
  /** Fault injection for tests: delay before answering. */
  readonly delayMs?: () => number;
  /** Fault injection for tests: what the read-back shows instead of the truth. */
  readonly distortReadBack?: (held: HeldRecord) => HeldRecord;
}

/**
 * A small but honest webhook receiver (billing, shipping, marketing in the demo): it checks the signature,
 * applies each change once by idempotency key, ignores a sequence older than what it holds, and shows its
 * state at GET /customers/:id and GET /.
 */
export async function startSampleSystem(options: SampleSystemOptions, port = 0): Promise<SampleSystem> {
  const { records, deliveries, receive } = createReceiver();
  const server = Fastify({ logger: false });
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  server.addHook('onSend', async (request, _reply, payload) => {
    if (!options.distortReadBack || !request.url.startsWith('/customers/') || typeof payload !== 'string')
      return payload;
    const held = JSON.parse(payload) as HeldRecord;
    return held.fields ? JSON.stringify(options.distortReadBack(held)) : payload;
  });

  server.post('/hooks/amend', async (request, reply) => {
    const delay = options.delayMs?.() ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const status = options.fault?.();
    if (status) return reply.code(status).send({ error: 'injected fault' });
    const raw = request.body as string;
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers['amend-signature'] ?? ''));
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
    return reply
      .code(200)
      .send({ status: receive(JSON.parse(raw) as ChangeEvent, String(request.headers['idempotency-key'])) });
  });

  const boundPort = await serveState(options.name, records, deliveries, server, port);
  return {
    server,
    name: options.name,
    url: () => `http://127.0.0.1:${boundPort}`,
    records,
    deliveries,
    close: () => server.close(),
  };
}

/**
 * A sample system fed by NATS JetStream: a durable consumer applies each message once (by message id) and
 * acknowledges it; its state is readable over HTTP like the others.
 */
export async function startNatsSampleSystem(
  options: {
    name: string;
    servers: string;
    subject: string;
    stream: string;
    /** Fault injection for tests: a consumer that applies each message this long after it arrives. */
    applyDelayMs?: number;
  },
  port = 0,
): Promise<SampleSystem> {
  const { records, deliveries, receive } = createReceiver();
  const nc = await connect({ servers: options.servers, timeout: 1000 });
  const manager = await jetstreamManager(nc);
  await manager.streams
    .info(options.stream)
    .catch(() => manager.streams.add({ name: options.stream, subjects: [options.subject] }));
  const durable = `${options.name}-sample`;
  await manager.consumers
    .info(options.stream, durable)
    .catch(() =>
      manager.consumers.add(options.stream, { durable_name: durable, ack_policy: AckPolicy.Explicit }),
    );
  const consumer = await jetstream(nc).consumers.get(options.stream, durable);
  const messages = await consumer.consume();
  void (async () => {
    for await (const message of messages) {
      const event = message.json<ChangeEvent>();
      if (options.applyDelayMs) await new Promise((resolve) => setTimeout(resolve, options.applyDelayMs));
      receive(event, message.headers?.get('Nats-Msg-Id') || `${event.changeId}:${options.name}`);
      message.ack();
    }
  })();
  const server = Fastify({ logger: false });
  const boundPort = await serveState(options.name, records, deliveries, server, port);
  return {
    server,
    name: options.name,
    url: () => `http://127.0.0.1:${boundPort}`,
    records,
    deliveries,
    close: async () => {
      await server.close();
      messages.stop();
      await nc.drain().catch(() => {});
    },
  };
}

/**
 * The connected-systems file (`AMEND_CONNECTED_SYSTEMS_FILE`) that points an `amend` process at these sample
 * webhook receivers, each signing with `secretOf` its name; for the benchmark and the process tests.
 */
export function webhookSystemsFile(
  systems: readonly SampleSystem[],
  secretOf: (name: string) => string,
  timeoutMs?: number,
): string {
  return JSON.stringify({
    systems: systems.map((system) => ({
      id: system.name,
      kind: 'webhook',
      url: `${system.url()}/hooks/amend`,
      secret: secretOf(system.name),
      ...(timeoutMs ? { timeoutMs } : {}),
    })),
  });
}
