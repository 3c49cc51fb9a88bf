// The propagation part of `npm run bench` (issue #9): with three loopback connected systems, does delivery keep
// up with the apply rate? First the backlog the apply stage left (it ran with no worker) is drained, which gives
// the worker's catch-up rate; then changes arrive open-loop at half the peak apply rate for a fixed time while
// the outbox depth is sampled from /metrics, as an operator would watch it. Lag is taken from Amend's own
// timestamps: from the outbox row's creation (inside the applying transaction, so no later than the commit) to
// the last system's acknowledgement being recorded. Conservative on both ends.

import { sql } from 'kysely';
import { openDatabase } from '../src/store/database.ts';

const LOAD_SECONDS = Number(process.env.BENCH_PROPAGATION_SECONDS ?? 20);
/** A fixed rate in place of half the peak, to find where delivery stops keeping up. */
const FIXED_RATE = process.env.BENCH_PROPAGATION_PER_SECOND
  ? Number(process.env.BENCH_PROPAGATION_PER_SECOND)
  : null;
/** Open-loop load may not pile up without bound: past this many requests in flight, the schedule slips. */
const MAX_IN_FLIGHT = 64;
const DRAIN_TIMEOUT_MS = 180_000;
const DRAIN_POLL_MS = 200;

export interface PropagationRun {
  readonly engine: string;
  readonly deployment: string;
  /** Messages the worker cleared from the apply stage's backlog, and how fast. */
  readonly backlog: number;
  readonly backlogPerSecond: number;
  /** The delivering process's CPU per message while it drained the backlog (nothing else to do), in ms. */
  readonly backlogCpuMsPerMessage: number | null;
  readonly targetPerSecond: number;
  readonly appliedPerSecond: number;
  readonly changes: number;
  readonly refused: number;
  readonly messages: number;
  readonly maxDepth: number;
  /** Mean depth over the first and last third of the load: equal within noise when delivery keeps up. */
  readonly depthFirstThird: number;
  readonly depthLastThird: number;
  readonly drainAfterLoadMs: number;
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** Resident memory of the delivering process (the worker, or the server with its worker) as the load ended. */
  readonly delivererRssMb: number | null;
  readonly delivererPeakRssMb: number | null;
  /**
   * The delivering process's CPU per change under the load, in ms: with the worker in the server, the apply's
   * and the delivery's together, which is what one thread must fit into a second.
   */
  readonly delivererCpuMsPerChange: number | null;
}

export interface PropagationSetup {
  readonly engine: string;
  readonly deployment: string;
  readonly base: string;
  /** Submits one auto-approvable change; answers when the 201 arrived. */
  readonly apply: () => Promise<void>;
  readonly peakPerSecond: number;
  /** Where to read the outbox afterwards (the server's database), called once the load has drained. */
  readonly database: { url?: string; dataDir?: string };
  /** Called after the run, before the database is read (PGlite admits one process at a time). */
  readonly beforeReading?: () => Promise<void>;
  /** The delivering process's resident memory now and at its peak, in MB. */
  readonly delivererMemory: () => { rss: number | null; peak: number | null };
  /** The delivering process's CPU time so far, in ms. */
  readonly delivererCpuMs: () => number | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const mean = (values: number[]) =>
  values.length === 0 ? 0 : Math.round(values.reduce((a, b) => a + b, 0) / values.length);

async function outboxDepth(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const depth = /^amend_outbox_depth (\d+)/m.exec(text)?.[1];
  if (depth === undefined) throw new Error('/metrics has no amend_outbox_depth');
  return Number(depth);
}

/** Polls until the outbox is empty; answers how long that took. */
async function drain(base: string): Promise<{ ms: number; depthAtStart: number }> {
  const started = performance.now();
  const depthAtStart = await outboxDepth(base);
  for (let depth = depthAtStart; depth > 0; depth = await outboxDepth(base)) {
    if (performance.now() - started > DRAIN_TIMEOUT_MS)
      throw new Error(`the outbox still holds ${depth} messages after ${DRAIN_TIMEOUT_MS / 1000} s`);
    // /metrics counts in the database, which on PGlite is the worker's thread: polled every 50 ms it took a
    // sixth of that thread and slowed the drain it was timing.
    await sleep(DRAIN_POLL_MS);
  }
  return { ms: Math.round(performance.now() - started), depthAtStart };
}

/** CPU (or any counter) spent per item between two readings, or null where a reading failed. */
export const perItem = (before: number | null, after: number | null, items: number) =>
  before === null || after === null || items === 0 ? null : +((after - before) / items).toFixed(2);

export async function benchPropagation(setup: PropagationSetup): Promise<PropagationRun> {
  const cpuBeforeBacklog = setup.delivererCpuMs();
  const backlog = await drain(setup.base);
  const cpuAfterBacklog = setup.delivererCpuMs();
  const targetPerSecond = FIXED_RATE ?? Math.max(1, Math.round(setup.peakPerSecond / 2));
  const windowStart = new Date();
  const depths: number[] = [];
  let applied = 0;
  let failures = 0;
  let firstFailure = '';
  let inFlight = 0;
  const started = performance.now();
  const sampler = (async () => {
    while (performance.now() - started < LOAD_SECONDS * 1000) {
      depths.push(await outboxDepth(setup.base));
      await sleep(500);
    }
  })();
  for (let i = 0; performance.now() - started < LOAD_SECONDS * 1000; i++) {
    const wait = started + (i * 1000) / targetPerSecond - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight >= MAX_IN_FLIGHT) await sleep(1);
    inFlight++;
    setup
      .apply()
      .then(() => applied++)
      .catch((error: unknown) => {
        failures++;
        firstFailure ||= error instanceof Error ? error.message.slice(0, 300) : String(error);
      })
      .finally(() => inFlight--);
  }
  while (inFlight > 0) await sleep(5);
  await sampler;
  const memory = setup.delivererMemory();
  // A refused submission (say, two changes to one customer at once) is reported, not hidden, and does not
  // end the run: it writes nothing to propagate.
  if (failures > 0)
    console.error(`${failures} submissions refused during the propagation load: ${firstFailure}`);
  const afterLoad = await drain(setup.base);
  const cpuAfterLoad = setup.delivererCpuMs();
  await setup.beforeReading?.();

  const opened = await openDatabase(setup.database);
  try {
    const { rows } = await sql<{ lag_ms: number; messages: number }>`
      SELECT EXTRACT(EPOCH FROM (max(delivered_at) - min(created_at))) * 1000 AS lag_ms, count(*) AS messages
      FROM outbox
      WHERE kind = 'propagation' AND created_at >= ${windowStart.toISOString()} AND status = 'delivered'
      GROUP BY change_request_id`.execute(opened.db);
    const lags = rows.map((row) => Number(row.lag_ms)).sort((a, b) => a - b);
    const third = Math.max(1, Math.floor(depths.length / 3));
    return {
      engine: setup.engine,
      deployment: setup.deployment,
      backlog: backlog.depthAtStart,
      backlogPerSecond: backlog.ms === 0 ? 0 : Math.round((backlog.depthAtStart * 1000) / backlog.ms),
      backlogCpuMsPerMessage: perItem(cpuBeforeBacklog, cpuAfterBacklog, backlog.depthAtStart),
      targetPerSecond,
      appliedPerSecond: Math.round(applied / LOAD_SECONDS),
      changes: rows.length,
      refused: failures,
      messages: rows.reduce((n, row) => n + Number(row.messages), 0),
      maxDepth: Math.max(0, ...depths),
      depthFirstThird: mean(depths.slice(0, third)),
      depthLastThird: mean(depths.slice(-third)),
      drainAfterLoadMs: afterLoad.ms,
      lagP50Ms: Math.round(percentile(lags, 50)),
      lagP99Ms: Math.round(percentile(lags, 99)),
      lagMaxMs: Math.round(lags.at(-1) ?? 0),
      delivererRssMb: memory.rss,
      delivererPeakRssMb: memory.peak,
      delivererCpuMsPerChange: perItem(cpuAfterBacklog, cpuAfterLoad, rows.length),
    };
  } finally {
    await opened.close();
  }
}

export function propagationTable(runs: readonly PropagationRun[]): string {
  return [
    `Propagation to three loopback connected systems, ${LOAD_SECONDS} s of open-loop load at half the peak apply rate (targets: depth bounded, p99 lag commit → all acknowledged ≤ 500 ms)`,
    '',
    '| engine | deployment | backlog drained | drain per second | drain CPU ms a message | target per second | applied per second | changes | refused | messages | max depth | mean depth first third | mean depth last third | drained after load ms | lag p50 ms | lag p99 ms | lag max ms | deliverer RSS MB | deliverer peak RSS MB | deliverer CPU ms a change |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.engine} | ${r.deployment} | ${r.backlog} | ${r.backlogPerSecond} | ${r.backlogCpuMsPerMessage ?? ''} | ${r.targetPerSecond} | ${r.appliedPerSecond} | ${r.changes} | ${r.refused} | ${r.messages} | ${r.maxDepth} | ${r.depthFirstThird} | ${r.depthLastThird} | ${r.drainAfterLoadMs} | ${r.lagP50Ms} | ${r.lagP99Ms} | ${r.lagMaxMs} | ${r.delivererRssMb} | ${r.delivererPeakRssMb} | ${r.delivererCpuMsPerChange ?? ''} |`,
    ),
  ].join('\n');
}
