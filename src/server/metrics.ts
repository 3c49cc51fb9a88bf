import { Gauge, Registry } from 'prom-client';
import type { Clock, MetricsHistory, Store } from '../app/ports.ts';

/** Received → completed buckets, in seconds: from a minute (self-service) to the FAQ's two business days. */
const PROCESSING_BUCKETS_SECONDS = [60, 300, 900, 3600, 4 * 3600, 24 * 3600, 2 * 24 * 3600, 7 * 24 * 3600];

/**
 * How long a process serves the all-time figures from memory. Reading them reads every finished request, which
 * at every scrape would make /metrics (public, and polled) cost more the longer Amend has run; a minute is
 * well within what a dashboard of those figures can tell apart.
 */
export const HISTORY_MAX_AGE_MS = 60_000;

/**
 * The Prometheus registry for /metrics. Values come from the database, so several servers and workers on one
 * database all report the same figures: the backlog (unfinished requests, the outbox, open flags) at every
 * scrape, the all-time figures (finished requests, failed checks, processing time) at most once a minute, in
 * the background after the first scrape.
 */
export function createMetrics(
  store: Pick<Store, 'metricsBacklog' | 'metricsHistory'>,
  clock: Clock,
  /** Told of a background reading that failed: no scrape waits for it, so none would report it. */
  onReadingFailed: (error: unknown) => void = () => {},
): {
  registry: Registry;
  render(): Promise<string>;
} {
  const registry = new Registry();
  let history: { figures: MetricsHistory; readAt: number } | null = null;
  // Scrapes that find the figures out of date at once share one reading of them.
  let readingHistory: Promise<MetricsHistory> | null = null;
  const readHistory = (): Promise<MetricsHistory> => {
    const readAt = clock.now().getTime();
    readingHistory ??= store
      .metricsHistory(PROCESSING_BUCKETS_SECONDS)
      .then((figures) => {
        history = { figures, readAt };
        return figures;
      })
      .finally(() => {
        readingHistory = null;
      });
    return readingHistory;
  };
  // Only the first scrape waits for the history: later ones serve the last reading and, once it is a minute
  // old, start the next. Reading a million requests took ~0.9 s, which every minute's first scrape used to wait.
  const currentHistory = async (): Promise<MetricsHistory> => {
    if (!history) return readHistory();
    if (clock.now().getTime() - history.readAt >= HISTORY_MAX_AGE_MS)
      // A failed reading leaves the last figures in place, and the next scrape tries again.
      readHistory().catch(onReadingFailed);
    return history.figures;
  };
  // The history this render shows, so the histogram agrees with the gauges even if a reading lands between.
  let shown: MetricsHistory | null = null;
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
    const [backlog, past] = await Promise.all([store.metricsBacklog(), currentHistory()]);
    requests.reset();
    for (const [state, count] of Object.entries({ ...backlog.requestsByState, ...past.requestsByState }))
      requests.set({ state }, count);
    depth.set(backlog.outboxDepth);
    age.set(backlog.outboxOldestAgeSeconds);
    dead.set(backlog.deadLetters);
    flags.reset();
    for (const severity of ['low', 'medium', 'high'])
      flags.set({ severity }, backlog.openFlagsBySeverity[severity] ?? 0);
    failures.set(past.verificationFailures);
    shown = past;
  };
  const name = 'amend_change_request_processing_seconds';
  registry.registerMetric({
    name,
    help: 'Time from receiving a change request to its confirmation being accepted (completed requests).',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const figures = shown?.processing ?? {
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
            value: figures.buckets[i] ?? 0,
          })),
          { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: figures.count },
          { metricName: `${name}_sum`, labels: {}, value: figures.sumSeconds },
          { metricName: `${name}_count`, labels: {}, value: figures.count },
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
