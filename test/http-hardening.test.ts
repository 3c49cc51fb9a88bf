import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
