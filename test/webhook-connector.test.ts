// The webhook connector against real HTTP receivers on loopback: what each kind of answer (or silence) becomes.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookConnector } from '../src/adapters/connectors/webhook/webhook-connector.ts';
import type { ClaimedOutboxMessage, ConnectedSystem } from '../src/app/ports.ts';

const SECRET = 'receiver-secret';
const TIMEOUT_MS = 300;

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What the receiver answers next, by path; `hang` never answers. */
let answer: (path: string) => { status: number; body?: string } | 'hang' = () => ({ status: 204 });
const received: Received[] = [];
let connections = 0;
let server: http.Server;
let base: string;
let system: ConnectedSystem;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const next = answer(request.url ?? '');
      if (next === 'hang') return;
      response.writeHead(next.status, { 'content-type': 'application/json' }).end(next.body);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  system = createWebhookConnector({
    id: 'billing',
    url: `${base}/hooks/amend`,
    secret: SECRET,
    timeoutMs: TIMEOUT_MS,
    readBackUrl: `${base}/customers/{customerId}`,
  });
});
afterAll(async () => {
  await system.close?.();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const message = (sequence: number): ClaimedOutboxMessage => ({
  id: sequence,
  kind: 'propagation',
  destination: 'billing',
  customerId: 'c0ffee00-0000-4000-8000-000000000001',
  changeRequestId: 'c0ffee00-0000-4000-8000-0000000000aa',
  sequence,
  payload: { customerId: 'c0ffee00-0000-4000-8000-000000000001', sequence, fields: { preferredName: 'Ana' } },
  deadlineAt: null,
  attempts: 1,
  driftCount: 0,
  createdAt: new Date().toISOString(),
});

describe('webhook connector', () => {
  it('posts the change signed over its exact body, with its idempotency key and sequence, on kept-alive connections', async () => {
    answer = () => ({ status: 200, body: JSON.stringify({ filler: 'x'.repeat(100_000) }) });
    received.length = 0;
    const before = connections;
    for (let sequence = 7; sequence < 17; sequence++)
      expect(await system.deliver(message(sequence))).toEqual({ ok: true });
    const [first] = received;
    expect(first).toMatchObject({ method: 'POST', url: '/hooks/amend' });
    expect(JSON.parse(first!.body)).toMatchObject({
      sequence: 7,
      system: 'billing',
      fields: { preferredName: 'Ana' },
    });
    const [, t, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(first!.headers['amend-signature'])) ?? [];
    expect(mac).toBe(createHmac('sha256', SECRET).update(`${t}.${first!.body}`).digest('hex'));
    expect(first!.headers['idempotency-key']).toBe('c0ffee00-0000-4000-8000-0000000000aa:billing');
    expect(first!.headers['amend-sequence']).toBe('7');
    // Each answer's body was read to its end, so later deliveries reused the connections.
    expect(connections - before).toBeLessThanOrEqual(2);
  });

  it.each([
    [400, true],
    [422, true],
    [408, false],
    [429, false],
    [500, false],
    [503, false],
  ])('treats HTTP %i as permanent: %s', async (status, isPermanent) => {
    answer = () => ({ status, body: '{"error":"no"}' });
    expect(await system.deliver(message(9))).toEqual({
      ok: false,
      error: `billing: HTTP ${status}`,
      isPermanent,
    });
  });

  it('gives up on a receiver that does not answer within the timeout, to be retried', async () => {
    answer = () => 'hang';
    expect(await system.deliver(message(10))).toEqual({
      ok: false,
      error: `billing: no answer within ${TIMEOUT_MS} ms`,
      isPermanent: false,
    });
  });

  it('reports a refused connection as retryable', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = createWebhookConnector({
      id: 'shipping',
      url: `http://127.0.0.1:${port}/hooks`,
      secret: SECRET,
      timeoutMs: TIMEOUT_MS,
    });
    expect(await unreachable.deliver(message(11))).toEqual({
      ok: false,
      error: 'shipping: connection failed',
      isPermanent: false,
    });
    await unreachable.close?.();
  });

  it('reads back what the system holds: its fields, null when it does not know the customer, an error otherwise', async () => {
    const readBack = system.readBack!;
    const id = 'c0ffee00-0000-4000-8000-000000000001';
    answer = () => ({ status: 200, body: JSON.stringify({ fields: { preferredName: 'Ana' } }) });
    expect(await readBack(id)).toEqual({ ok: true, values: { preferredName: 'Ana' } });
    expect(received.at(-1)).toMatchObject({ method: 'GET', url: `/customers/${id}` });
    answer = () => ({ status: 200, body: JSON.stringify({ preferredName: 'Bo' }) });
    expect(await readBack(id)).toEqual({ ok: true, values: { preferredName: 'Bo' } });
    answer = () => ({ status: 404 });
    expect(await readBack(id)).toEqual({ ok: true, values: null });
    answer = () => ({ status: 500, body: 'oops' });
    expect(await readBack(id)).toEqual({ ok: false, error: 'billing: read-back answered HTTP 500' });
    answer = () => ({ status: 200, body: 'not json' });
    expect(await readBack(id)).toEqual({ ok: false, error: 'billing: read-back failed' });
    answer = () => ({ status: 200, body: 'null' });
    expect(await readBack(id)).toEqual({ ok: false, error: 'billing: read-back failed' });
    answer = () => 'hang';
    expect(await readBack(id)).toEqual({ ok: false, error: 'billing: read-back failed' });
  });
});
