import { Gauge, Registry } from 'prom-client';
import type { Store } from '../app/ports.ts';

/** Received → completed buckets, in seconds: from a minute (self-service) to the FAQ's two business days. */
const PROCESSING_BUCKETS_SECONDS = [60, 300, 900, 3600, 4 * 3600, 24 * 3600, 2 * 24 * 3600, 7 * 24 * 3600];

/**
 * The Prometheus registry for /metrics. Values come from the database at scrape time, so several servers
 * and workers on one database all report the same figures.
 */
export function createMetrics(store: Pick<Store, 'metricsSnapshot'>): {
  registry: Registry;
  render(): Promise<string>;
} {
  const registry = new Registry();
  let snapshot: Awaited<ReturnType<Store['metricsSnapshot']>> | null = null;
  const requests = new Gauge({
    name: 'amend_change_requests',
    help: 'Change requests by state.',
    labelNames: ['state'],
    registers: [registry],
  });
  const depth = new Gauge({
    name: 'amend_outbox_depth',
    help: 'Outbox messages waiting for delivery.',
    registers: [registry],
  });
  const age = new Gauge({
    name: 'amend_outbox_oldest_age_seconds',
    help: 'Age of the oldest undelivered outbox message.',
    registers: [registry],
  });
  const dead = new Gauge({
    name: 'amend_dead_letters',
    help: 'Outbox messages that gave up.',
    registers: [registry],
  });
  const flags = new Gauge({
    name: 'amend_anomaly_flags_open',
    help: 'Open anomaly flags by severity.',
    labelNames: ['severity'],
    registers: [registry],
  });
  const failures = new Gauge({
    name: 'amend_verification_failures_total',
    help: 'Failed identity checks recorded (all time).',
    registers: [registry],
  });
  // One round of queries feeds every metric, before the registry renders (it gathers metrics concurrently).
  const refresh = async () => {
    snapshot = await store.metricsSnapshot(PROCESSING_BUCKETS_SECONDS);
    requests.reset();
    for (const [state, count] of Object.entries(snapshot.requestsByState)) requests.set({ state }, count);
    depth.set(snapshot.outboxDepth);
    age.set(snapshot.outboxOldestAgeSeconds);
    dead.set(snapshot.deadLetters);
    flags.reset();
    for (const severity of ['low', 'medium', 'high'])
      flags.set({ severity }, snapshot.openFlagsBySeverity[severity] ?? 0);
    failures.set(snapshot.verificationFailures);
  };
  const name = 'amend_change_request_processing_seconds';
  registry.registerMetric({
    name,
    help: 'Time from receiving a change request to its confirmation being accepted (completed requests).',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const processing = snapshot?.processing ?? {
        buckets: PROCESSING_BUCKETS_SECONDS.map(() => 0),
        count: 0,
        sumSeconds: 0,
      };
      return {
        name,
        help: 'Time from receiving a change request to its confirmation being accepted (completed requests).',
        type: 'histogram',
        aggregator: 'sum',
        values: [
          ...PROCESSING_BUCKETS_SECONDS.map((le, i) => ({
            metricName: `${name}_bucket`,
            labels: { le },
            value: processing.buckets[i] ?? 0,
          })),
          { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: processing.count },
          { metricName: `${name}_sum`, labels: {}, value: processing.sumSeconds },
          { metricName: `${name}_count`, labels: {}, value: processing.count },
        ],
      };
    },
    reset: () => {},
  } as never);
  return {
    registry,
    render: async () => {
      await refresh();
      return registry.metrics();
    },
  };
}
