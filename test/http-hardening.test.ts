import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer } from '../src/server/http-server.ts';
import { loggerOptions, redactedUrl } from '../src/server/logging.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

describe('security headers and size limits', () => {
  it('sends helmet’s security headers on API answers and pages', async () => {
    const integration = await app.addIntegration();
    for (const response of [
      await app.server.inject({ method: 'GET', url: '/healthz' }),
      await app.call(integration.apiKey, 'GET', '/api/v1/change-requests'),
      await app.server.inject({ method: 'GET', url: '/api/v1/nothing-here' }),
    ]) {
      expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
    const answer = await app.call(integration.apiKey, 'GET', '/api/v1/change-requests');
    expect(answer.headers['cache-control']).toBe('no-store');
  });

  it('refuses a body over 64 KiB with 413 problem+json, before reading it', async () => {
    const integration = await app.addIntegration();
    const customer = await app.addCustomer();
    const response = await app.call(integration.apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'x'.repeat(70_000) }],
      confirmSubmittedValues: true,
    });
    expect(response.statusCode).toBe(413);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().code).toBe('REQUEST.TOO_LARGE');
  });
});

describe('answers to requests that miss', () => {
  const problemOf = (response: {
    statusCode: number;
    headers: Record<string, unknown>;
    json(): Record<string, unknown>;
  }) => {
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    return response.json();
  };

  it('answers a path that exists under other methods with 405 and Allow, OPTIONS with 204, an unknown one with 404', async () => {
    const integration = await app.addIntegration();
    const customer = await app.addCustomer();
    const deleted = await app.call(integration.apiKey, 'DELETE', '/api/v1/customers');
    expect(deleted.statusCode).toBe(405);
    expect(deleted.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(problemOf(deleted)).toMatchObject({ code: 'REQUEST.METHOD_NOT_ALLOWED', status: 405 });
    expect(problemOf(deleted).detail).toContain('answers GET, HEAD, OPTIONS');

    // A path with parameters is matched as Fastify matches it; the answer does not depend on signing in.
    const put = await app.server.inject({ method: 'PUT', url: `/api/v1/customers/${customer.id}?x=1` });
    expect(put.statusCode).toBe(405);
    expect(String(put.headers.allow).split(', ')).toContain('GET');
    expect(String(put.headers.allow).split(', ')).not.toContain('PUT');

    const options = await app.server.inject({ method: 'OPTIONS', url: '/api/v1/change-requests' });
    expect(options.statusCode).toBe(204);
    expect(String(options.headers.allow).split(', ')).toEqual(expect.arrayContaining(['GET', 'POST']));
    expect(options.body).toBe('');

    const unknown = await app.server.inject({ method: 'DELETE', url: '/api/v1/nothing-here' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers.allow).toBeUndefined();
    expect(problemOf(unknown).code).toBe('REQUEST.ROUTE_NOT_FOUND');
  });

  it('tells an unreadable body from a body of the wrong type, each with its fix', async () => {
    const integration = await app.addIntegration();
    const post = (contentType: string, payload: string) =>
      app.server.inject({
        method: 'POST',
        url: '/api/v1/change-requests',
        headers: { authorization: `Bearer ${integration.apiKey}`, 'content-type': contentType },
        payload,
      });
    const xml = await post('application/xml', '<change/>');
    expect(xml.statusCode).toBe(415);
    expect(problemOf(xml)).toMatchObject({ code: 'REQUEST.UNSUPPORTED_MEDIA_TYPE' });
    expect(problemOf(xml).detail).toContain('application/xml');

    const broken = await post('application/json', '{"customerId": ');
    expect(broken.statusCode).toBe(400);
    expect(problemOf(broken)).toMatchObject({ code: 'REQUEST.INVALID' });
    expect(problemOf(broken).detail).toMatch(/not valid JSON/);

    const poisoned = await post('application/json', '{"__proto__": {"role": "admin"}}');
    expect(poisoned.statusCode).toBe(400);
    expect(problemOf(poisoned).detail).toMatch(/__proto__/);

    const empty = await post('application/json', '');
    expect(empty.statusCode).toBe(400);
    expect(problemOf(empty).detail).toMatch(/body is empty/);
  });

  describe('before Fastify sees a request', () => {
    let base: { port: number };
    const connections: Socket[] = [];
    beforeAll(async () => {
      app.server.server.on('connection', (socket: Socket) => connections.push(socket));
      await app.server.listen({ port: 0, host: '127.0.0.1' });
      base = app.server.server.address() as AddressInfo;
    });

    /** Writes raw bytes on a new connection; answers all that comes back until the server closes it. */
    const exchange = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(base.port, '127.0.0.1', () => socket.write(bytes));
        let answer = '';
        socket.on('data', (chunk: Buffer) => {
          answer += chunk.toString('utf8');
        });
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    const problemIn = (answer: string) => {
      const [head, body] = answer.split('\r\n\r\n');
      expect(head).toMatch(/content-type: application\/problem\+json/i);
      expect(head).toMatch(/connection: close/i);
      return { status: Number(head!.split(' ')[1]), ...JSON.parse(body!) };
    };

    it('answers malformed HTTP and oversized headers with problem+json, and closes the connection', async () => {
      const malformed = problemIn(await exchange('GARBAGE\r\n\r\n'));
      expect(malformed).toMatchObject({ status: 400, code: 'REQUEST.INVALID' });
      expect(malformed.detail).toMatch(/not valid HTTP/);
      const smuggled = problemIn(
        await exchange(
          'POST /api/v1/change-requests HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        ),
      );
      expect(smuggled).toMatchObject({ status: 400, code: 'REQUEST.INVALID' });
      const oversized = problemIn(
        await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: ${'a'.repeat(20_000)}\r\n\r\n`),
      );
      expect(oversized).toMatchObject({ status: 431, code: 'REQUEST.HEADERS_TOO_LARGE' });
      expect(oversized.instance).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers a request that timed out with 408 problem+json', async () => {
      // Node checks timeouts every 30 s; the error it then raises is handed over as it would be.
      const before = connections.length;
      const answer = exchange('POST /api/v1/change-requests HTTP/1.1\r\n');
      await vi.waitFor(() => expect(connections[before]?.bytesRead).toBeGreaterThan(0));
      app.server.server.emit(
        'clientError',
        Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
        connections[before],
      );
      expect(problemIn(await answer)).toMatchObject({ status: 408, code: 'REQUEST.TIMEOUT' });
    });
  });
});

describe('behind a reverse proxy', () => {
  it('takes the client address from X-Forwarded-For only when the proxies are named, and only from them', async () => {
    const integration = await app.addIntegration();
    const submit = async (server: Awaited<ReturnType<typeof buildServer>>, remoteAddress: string) => {
      const customer = await app.addCustomer();
      const response = await server.inject({
        method: 'POST',
        url: '/api/v1/change-requests',
        remoteAddress,
        headers: { authorization: `Bearer ${integration.apiKey}`, 'x-forwarded-for': '203.0.113.7' },
        payload: {
          customerId: customer.id,
          changes: [{ field: 'preferredName', value: 'Proxied' }],
          confirmSubmittedValues: true,
        },
      });
      expect(response.statusCode, response.body).toBe(201);
      return (await app.store.findChangeRequest(response.json().id))!.source.ip;
    };
    const behindProxy = await buildServer(app.deps, { trustProxy: ['10.0.0.0/8'] });
    expect(await submit(behindProxy, '10.1.2.3')).toBe('203.0.113.7');
    // A client that is not one of the proxies cannot claim another address.
    expect(await submit(behindProxy, '198.51.100.9')).toBe('198.51.100.9');
    // By default nobody is believed.
    expect(await submit(app.server, '10.1.2.3')).toBe('10.1.2.3');
  });
});

describe('limits on submitting changes', () => {
  it('limits submissions per customer, whoever sends them, and per address', async () => {
    const server = await buildServer({
      ...app.deps,
      submissionLimits: { perMinutePerAddress: 6, perHourPerCustomer: 3 },
    });
    const integration = await app.addIntegration();
    const [first, second] = [await app.addCustomer(), await app.addCustomer()];
    const submit = (customerId: string, remoteAddress: string, name: string) =>
      server.inject({
        method: 'POST',
        url: '/api/v1/change-requests',
        remoteAddress,
        headers: { authorization: `Bearer ${integration.apiKey}` },
        payload: {
          customerId,
          changes: [{ field: 'preferredName', value: name }],
          confirmSubmittedValues: true,
        },
      });
    for (const [i, name] of ['Ann', 'Bea', 'Cat'].entries())
      expect((await submit(first.id, `192.0.2.${i + 1}`, name)).statusCode).toBe(201);
    const perCustomer = await submit(first.id, '192.0.2.9', 'Dot');
    expect(perCustomer.statusCode).toBe(429);
    expect(perCustomer.json()).toMatchObject({ code: 'REQUEST.RATE_LIMITED' });
    expect(perCustomer.json().detail).toMatch(/for this customer/);
    expect(Number(perCustomer.headers['retry-after'])).toBeGreaterThan(0);
    expect((await submit(second.id, '192.0.2.9', 'Eve')).statusCode).toBe(201);

    // One address: 6 a minute, whichever customers.
    const third = await app.addCustomer();
    const fourth = await app.addCustomer();
    const outcomes: number[] = [];
    for (const [i, customer] of [third, third, fourth, fourth, second, second].entries())
      outcomes.push(
        (await submit(customer.id, '198.51.100.7', `Fay${String.fromCharCode(97 + i)}`)).statusCode,
      );
    expect(outcomes.filter((status) => status === 201)).toHaveLength(6);
    const perAddress = await submit(fourth.id, '198.51.100.7', 'Gus');
    expect(perAddress.statusCode).toBe(429);
    expect(perAddress.headers['retry-after']).toBeDefined();
    await server.close();
  });
});

describe('logs', () => {
  it('never carry credentials or personal data', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await buildServer(app.deps, { logger: { ...loggerOptions('info'), stream } });
    const representative = await app.addStaff('representative');
    const customer = await app.addCustomer({ email: 'private.person@example.com' });
    await server.inject({
      method: 'GET',
      url: '/api/v1/customers?email=private.person@example.com&limit=5',
      headers: { authorization: `Bearer ${representative.apiKey}`, cookie: 'amend_session=sst_secret' },
    });
    await server.inject({
      method: 'POST',
      url: '/api/v1/change-requests',
      headers: { authorization: `Bearer ${representative.apiKey}`, 'x-csrf-token': 'csrf_secret' },
      payload: {
        customerId: customer.id,
        changes: [{ field: 'phone', value: '+61412000999' }],
        confirmSubmittedValues: true,
      },
    });
    // What code may log about a customer or a sign-in is redacted by key, however deep.
    server.log.info(
      {
        customer: { email: 'private.person@example.com', legalName: 'Private Person' },
        password: 'hunter2hunter2',
      },
      'customer context',
    );
    server.log.error(
      { err: { message: 'duplicate key', detail: 'Key (email)=(private.person@example.com)' } },
      'db',
    );
    await server.close();
    const log = lines.join('');
    expect(log).toContain('"url":"/api/v1/customers?email=[redacted]&limit=[redacted]"');
    expect(log).toContain('customer context');
    for (const secret of [
      'private.person',
      'Private Person',
      'hunter2',
      representative.apiKey,
      'sst_secret',
      'csrf_secret',
      '412000999',
    ])
      expect(log).not.toContain(secret);
    expect(log).toContain('[redacted]');
  });

  it('keeps the path and the names of query parameters', () => {
    expect(redactedUrl('/api/v1/customers')).toBe('/api/v1/customers');
    expect(redactedUrl('/api/v1/audit?customerId=abc&limit=5')).toBe(
      '/api/v1/audit?customerId=[redacted]&limit=[redacted]',
    );
  });
});
