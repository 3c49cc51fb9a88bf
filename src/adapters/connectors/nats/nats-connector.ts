import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ClaimedOutboxMessage, ConnectedSystem, DeliveryResult } from '../../../app/ports.ts';
import { connectedSystemPool, readBackOverHttp } from '../webhook/webhook-connector.ts';

export interface NatsSystemConfig {
  readonly id: string;
  readonly servers: string;
  readonly subject: string;
  /** Create this stream over `subject` if it does not exist (the demo and tests do; production streams are usually provisioned). */
  readonly stream?: string | undefined;
  readonly timeoutMs: number;
  readonly readBackUrl?: string | undefined;
  readonly readBackSecret?: string | undefined;
}

/**
 * Publishes a change to a NATS JetStream subject. Delivered only when the stream acknowledges; the message id
 * (`<change id>:<system>`) makes JetStream drop a redelivery within its duplicate window.
 */
export function createNatsConnector(config: NatsSystemConfig): ConnectedSystem {
  let connection: Promise<{ nc: NatsConnection; js: JetStreamClient }> | null = null;
  const open = () => {
    connection ??= (async () => {
      const nc = await connect({
        servers: config.servers,
        timeout: config.timeoutMs,
        reconnect: true,
        maxReconnectAttempts: -1,
      });
      if (config.stream) {
        const manager = await jetstreamManager(nc);
        await manager.streams
          .info(config.stream)
          .catch(() => manager.streams.add({ name: config.stream!, subjects: [config.subject] }));
      }
      return { nc, js: jetstream(nc, { timeout: config.timeoutMs }) };
    })().catch((error: unknown) => {
      connection = null;
      throw error;
    });
    return connection;
  };
  const { readBackUrl } = config;
  const readBackPool = connectedSystemPool(config.timeoutMs);
  return {
    id: config.id,
    kind: 'nats',
    confirmation: readBackUrl ? 'read_back' : 'acknowledged',
    async deliver(message: ClaimedOutboxMessage): Promise<DeliveryResult> {
      try {
        const { js } = await open();
        await js.publish(config.subject, JSON.stringify({ ...message.payload, system: config.id }), {
          msgID: `${message.changeRequestId ?? message.id}:${config.id}`,
        });
        return { ok: true };
      } catch (error) {
        return {
          ok: false,
          error: `${config.id}: JetStream did not acknowledge (${error instanceof Error ? error.message : 'unknown'})`,
          isPermanent: false,
        };
      }
    },
    ...(readBackUrl
      ? {
          // The stream's acknowledgement comes before the consumer has applied the change.
          readBackSettleMs: config.timeoutMs,
          readBack: (customerId: string) =>
            readBackOverHttp(
              config.id,
              readBackUrl,
              config.readBackSecret ?? '',
              customerId,
              readBackPool,
              config.timeoutMs,
            ),
        }
      : {}),
    async close() {
      await readBackPool.close();
      if (connection) await (await connection.catch(() => null))?.nc.drain().catch(() => {});
    },
  };
}
