import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import Fastify from 'fastify';
import {
  buildConnectedSystems,
  type ConnectedSystemDeclaration,
} from '../adapters/connectors/connected-systems-config.ts';
import type { createSqlConnector } from '../adapters/connectors/sql/sql-connector.ts';
import type { Clock, ConnectedSystem, IdSource, Store } from '../app/ports.ts';
import type { Policy } from '../core/policy-types.ts';
import { startNatsSampleSystem, startSampleSystem } from './sample-connected-system.ts';

export interface DemoSystemView {
  readonly name: string;
  readonly kind: string;
  url(): string;
}

const NATS_SERVERS = '127.0.0.1:4222';

async function isNatsReachable(): Promise<boolean> {
  try {
    const nc = await connect({ servers: NATS_SERVERS, timeout: 1000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

const SHIPPING_TABLE = `CREATE TABLE IF NOT EXISTS shipping_customer (
  customer_id text PRIMARY KEY, amend_sequence integer, legal_name text, phone text, address jsonb)`;

/**
 * The three sample connected systems `npm start` runs beside Amend, on loopback ports PORT+1…PORT+3: billing
 * over a signed webhook, shipping as a table in its own embedded PostgreSQL, marketing over NATS JetStream
 * when a server answers on 127.0.0.1:4222 (else a webhook). Each shows its state over HTTP.
 */
export async function startDemoSystems(
  policy: Policy,
  options: {
    basePort: number;
    dataDir: string;
    deps: { store: Pick<Store, 'createManualTask'>; ids: IdSource; clock: Clock };
  },
): Promise<{
  systems: DemoSystemView[];
  connectedSystems: Map<string, ConnectedSystem>;
  close(): Promise<void>;
}> {
  const portFor = (offset: number) => (options.basePort === 0 ? 0 : options.basePort + offset);
  const closers: (() => Promise<void>)[] = [];
  const declarations: ConnectedSystemDeclaration[] = [];
  const views: DemoSystemView[] = [];

  const billingSecret = randomBytes(32).toString('hex');
  const billing = await startSampleSystem({ name: 'billing', secret: billingSecret }, portFor(1)).catch(() =>
    startSampleSystem({ name: 'billing', secret: billingSecret }, 0),
  );
  closers.push(billing.close);
  views.push({ name: 'billing', kind: 'webhook', url: billing.url });
  declarations.push({
    id: 'billing',
    kind: 'webhook',
    url: `${billing.url()}/hooks/amend`,
    secret: billingSecret,
    timeoutMs: 5000,
    readBackUrl: `${billing.url()}/customers/{customerId}`,
  });

  const shippingDir = join(options.dataDir, 'connected-shipping');
  mkdirSync(shippingDir, { recursive: true });
  declarations.push({
    id: 'shipping',
    kind: 'sql',
    url: `pglite://${shippingDir}`,
    table: 'shipping_customer',
    keyColumn: 'customer_id',
    sequenceColumn: 'amend_sequence',
    columns: { legalName: 'legal_name', phone: 'phone', postalAddress: 'address' },
  });

  if (await isNatsReachable()) {
    const marketing = await startNatsSampleSystem(
      {
        name: 'marketing',
        servers: NATS_SERVERS,
        subject: 'amend.demo.marketing',
        stream: 'AMEND_DEMO_MARKETING',
      },
      portFor(3),
    ).catch(() =>
      startNatsSampleSystem(
        {
          name: 'marketing',
          servers: NATS_SERVERS,
          subject: 'amend.demo.marketing',
          stream: 'AMEND_DEMO_MARKETING',
        },
        0,
      ),
    );
    closers.push(marketing.close);
    views.push({ name: 'marketing', kind: 'nats', url: marketing.url });
    declarations.push({
      id: 'marketing',
      kind: 'nats',
      servers: NATS_SERVERS,
      subject: 'amend.demo.marketing',
      stream: 'AMEND_DEMO_MARKETING',
      timeoutMs: 5000,
      readBackUrl: `${marketing.url()}/customers/{customerId}`,
    });
  } else {
    const secret = randomBytes(32).toString('hex');
    const marketing = await startSampleSystem({ name: 'marketing', secret }, portFor(3)).catch(() =>
      startSampleSystem({ name: 'marketing', secret }, 0),
    );
    closers.push(marketing.close);
    views.push({ name: 'marketing', kind: 'webhook', url: marketing.url });
    declarations.push({
      id: 'marketing',
      kind: 'webhook',
      url: `${marketing.url()}/hooks/amend`,
      secret,
      timeoutMs: 5000,
      readBackUrl: `${marketing.url()}/customers/{customerId}`,
    });
  }

  const built = buildConnectedSystems(
    { systems: declarations },
    policy,
    'the demo connected systems',
    options.deps,
  );
  if (!built.ok) throw new Error(built.error.message);
  const shipping = built.value.get('shipping') as ReturnType<typeof createSqlConnector>;
  await shipping.executor.query(SHIPPING_TABLE, []);
  const viewer = Fastify({ logger: false });
  viewer.get('/customers/:id', async (request, reply) => {
    const [row] = await shipping.executor.query('SELECT * FROM shipping_customer WHERE customer_id = $1', [
      (request.params as { id: string }).id,
    ]);
    return row ?? reply.code(404).send({ error: 'unknown customer' });
  });
  viewer.get('/', async () => {
    const [count] = await shipping.executor.query(
      'SELECT count(*)::int AS customers FROM shipping_customer',
      [],
    );
    const latest = await shipping.executor.query(
      'SELECT * FROM shipping_customer ORDER BY amend_sequence DESC NULLS LAST LIMIT 10',
      [],
    );
    return { system: 'shipping', table: 'shipping_customer', ...count, latest };
  });
  await viewer
    .listen({ host: '127.0.0.1', port: portFor(2) })
    .catch(() => viewer.listen({ host: '127.0.0.1', port: 0 }));
  const viewerAddress = viewer.server.address();
  const viewerPort = typeof viewerAddress === 'object' && viewerAddress ? viewerAddress.port : 0;
  views.splice(1, 0, { name: 'shipping', kind: 'sql', url: () => `http://127.0.0.1:${viewerPort}` });
  closers.push(() => viewer.close());

  return {
    systems: views,
    connectedSystems: built.value,
    close: async () => {
      for (const close of closers) await close().catch(() => {});
      for (const system of built.value.values()) await system.close?.().catch(() => {});
    },
  };
}
