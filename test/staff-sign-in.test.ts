import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffCredentialKit } from '../src/adapters/staff-credentials.ts';
import { buildServer } from '../src/server/http-server.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

let app: TestApp;
let addressCounter = 0;

beforeAll(async () => {
  app = await createTestApp();
});
afterAll(() => app.close());

// Each sign-in attempt from its own address, so the per-address limit does not hide the per-account lockout.
const nextAddress = () => `203.0.113.${(addressCounter++ % 250) + 1}`;

type Member = Awaited<ReturnType<TestApp['addStaff']>>;

const code = (member: Member, offsetMs = 0) =>
  staffCredentialKit.totpCode(member.totpSecret, new Date(app.clock.now().getTime() + offsetMs));

const signIn = (member: Member, overrides: { password?: string; code?: string; email?: string } = {}) =>
  app.server.inject({
    method: 'POST',
    url: '/api/v1/staff-sessions',
    remoteAddress: nextAddress(),
    payload: {
      email: overrides.email ?? member.email,
      password: overrides.password ?? member.password,
      code: overrides.code ?? code(member),
    },
  });

const cookiesOf = (response: LightMyRequestResponse) =>
  Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie]));

/** A signed-in browser: the session cookie on every call, the CSRF header when asked. */
async function browserFor(member: Member) {
  const response = await signIn(member);
  expect(response.statusCode).toBe(201);
  const cookies = cookiesOf(response);
  const session = cookies.amend_session!.value;
  const csrf = response.json().csrfToken as string;
  return {
    response,
    call: (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, withCsrf = true) =>
      app.server.inject({
        method,
        url,
        payload: payload as object,
        cookies: { amend_session: session },
        headers: withCsrf ? { 'x-csrf-token': csrf } : {},
      }),
  };
}

describe('staff sign-in', () => {
  it('signs in with password and TOTP, setting an HttpOnly SameSite=Lax session cookie and a CSRF token', async () => {
    const member = await app.addStaff('representative');
    const browser = await browserFor(member);
    const cookies = cookiesOf(browser.response);
    expect(cookies.amend_session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookies.amend_session!.secure).toBeFalsy();
    expect(cookies.amend_csrf).toMatchObject({ sameSite: 'Strict', path: '/' });
    expect(cookies.amend_csrf!.httpOnly).toBeFalsy();
    expect(cookies.amend_csrf!.value).toBe(browser.response.json().csrfToken);
    expect(browser.response.json()).toMatchObject({ user: { email: member.email }, idleMinutes: 30 });

    const me = await browser.call('GET', '/api/v1/staff-session', undefined, false);
    expect(me.statusCode).toBe(200);
    expect(me.json().user.role).toBe('representative');

    // Audited on the staff member's own chain.
    const audit = await app.store.listAudit({ chain: `staff:${member.id}`, limit: 10 });
    expect(audit.entries.map((entry) => entry.action)).toContain('staff.signed_in');
  });

  it('marks the cookie Secure over HTTPS (or when configured to always)', async () => {
    const member = await app.addStaff('representative');
    const server = await buildServer({ ...app.deps, secureCookies: 'always' });
    const response = await server.inject({
      method: 'POST',
      url: '/api/v1/staff-sessions',
      payload: { email: member.email, password: member.password, code: code(member) },
    });
    expect(response.statusCode).toBe(201);
    expect(cookiesOf(response).amend_session!.secure).toBe(true);
    await server.close();
  });

  it('refuses a state-changing call without the session’s CSRF token', async () => {
    const member = await app.addStaff('representative');
    const customer = await app.addCustomer();
    const browser = await browserFor(member);
    const body = {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Csrf Check' }],
      confirmSubmittedValues: true,
    };
    const without = await browser.call('POST', '/api/v1/change-requests', body, false);
    expect(without.statusCode).toBe(403);
    expect(without.json().code).toBe('AUTH.CSRF_REJECTED');
    const forged = await app.server.inject({
      method: 'POST',
      url: '/api/v1/change-requests',
      payload: body,
      cookies: { amend_session: cookiesOf(browser.response).amend_session!.value },
      headers: { 'x-csrf-token': 'csrf_not-the-right-one' },
    });
    expect(forged.json().code).toBe('AUTH.CSRF_REJECTED');
    const withToken = await browser.call('POST', '/api/v1/change-requests', body);
    expect(withToken.statusCode).toBe(201);
    expect(withToken.json().requester).toMatchObject({ kind: 'staff', id: member.id });
  });

  it('answers every wrong credential alike, and a TOTP code works only once', async () => {
    const member = await app.addStaff('representative');
    const unknown = await signIn(member, { email: 'nobody@amend.test' });
    const wrongPassword = await signIn(member, { password: 'not the password at all' });
    const wrongCode = await signIn(member, { code: code(member) === '000000' ? '111111' : '000000' });
    for (const response of [unknown, wrongPassword, wrongCode]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({
        code: 'AUTH.SIGN_IN_FAILED',
        detail: 'The email, password or code is not right.',
      });
    }
    expect((await signIn(member)).statusCode).toBe(201);
    // The same code again, within its 30 seconds: a replay.
    expect((await signIn(member)).json().code).toBe('AUTH.SIGN_IN_FAILED');
    app.clock.advance(30_000);
    expect((await signIn(member)).statusCode).toBe(201);
  });

  it('locks the account after five failures, with back-off, whatever the address', async () => {
    const member = await app.addStaff('team_lead');
    for (let i = 0; i < 5; i++)
      expect((await signIn(member, { password: `wrong password ${i}` })).json().code).toBe(
        'AUTH.SIGN_IN_FAILED',
      );
    const locked = await signIn(member);
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('AUTH.LOCKED_OUT');
    expect(locked.headers['retry-after']).toBe('60');

    app.clock.advance(61_000);
    // One more failure after the lock ends doubles it.
    expect((await signIn(member, { password: 'still wrong password' })).json().code).toBe(
      'AUTH.SIGN_IN_FAILED',
    );
    const relocked = await signIn(member);
    expect(relocked.json().code).toBe('AUTH.LOCKED_OUT');
    expect(relocked.headers['retry-after']).toBe('120');

    app.clock.advance(121_000);
    expect((await signIn(member)).statusCode).toBe(201);
    // Success resets the count: one failure does not lock again.
    app.clock.advance(30_000);
    expect((await signIn(member, { password: 'wrong once more' })).json().code).toBe('AUTH.SIGN_IN_FAILED');
    expect((await signIn(member)).statusCode).toBe(201);
  });

  it('ends a session after 30 idle minutes, and after 12 hours however active', async () => {
    const member = await app.addStaff('representative');
    const idle = await browserFor(member);
    app.clock.advance(29 * 60_000);
    expect((await idle.call('GET', '/api/v1/staff-session')).statusCode).toBe(200);
    app.clock.advance(29 * 60_000);
    // Still live: the last call 29 minutes ago moved the idle limit.
    expect((await idle.call('GET', '/api/v1/staff-session')).statusCode).toBe(200);
    app.clock.advance(31 * 60_000);
    const expired = await idle.call('GET', '/api/v1/staff-session');
    expect(expired.statusCode).toBe(401);
    expect(expired.json().code).toBe('AUTH.UNAUTHENTICATED');

    app.clock.advance(30_000);
    const busy = await browserFor(member);
    for (let minutes = 0; minutes < 12 * 60 - 20; minutes += 20) {
      app.clock.advance(20 * 60_000);
      expect((await busy.call('GET', '/api/v1/staff-session')).statusCode).toBe(200);
    }
    app.clock.advance(20 * 60_000);
    expect((await busy.call('GET', '/api/v1/staff-session')).statusCode).toBe(401);
  });

  it('signs out one session, or every session at once', async () => {
    const member = await app.addStaff('manager');
    const first = await browserFor(member);
    app.clock.advance(30_000);
    const second = await browserFor(member);
    app.clock.advance(30_000);
    const third = await browserFor(member);

    const out = await third.call('DELETE', '/api/v1/staff-session');
    expect(out.json()).toEqual({ sessionsEnded: 1 });
    expect((await third.call('GET', '/api/v1/staff-session')).statusCode).toBe(401);
    expect((await first.call('GET', '/api/v1/staff-session')).statusCode).toBe(200);

    const everywhere = await second.call('DELETE', '/api/v1/staff-sessions');
    expect(everywhere.json()).toEqual({ sessionsEnded: 2 });
    expect((await first.call('GET', '/api/v1/staff-session')).statusCode).toBe(401);
    expect((await second.call('GET', '/api/v1/staff-session')).statusCode).toBe(401);
  });

  it('changes a password: the rules are checked, the old password stops working, other sessions end', async () => {
    const member = await app.addStaff('representative');
    const other = await browserFor(member);
    app.clock.advance(30_000);
    const current = await browserFor(member);
    const weak = await current.call('POST', '/api/v1/staff-session/password', {
      currentPassword: member.password,
      newPassword: 'short',
    });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().errors[0].path).toBe('body.newPassword');
    const changed = await current.call('POST', '/api/v1/staff-session/password', {
      currentPassword: member.password,
      newPassword: 'a long enough passphrase',
    });
    expect(changed.json()).toEqual({ otherSessionsEnded: 1 });
    expect((await other.call('GET', '/api/v1/staff-session')).statusCode).toBe(401);
    expect((await current.call('GET', '/api/v1/staff-session')).statusCode).toBe(200);
    app.clock.advance(30_000);
    expect((await signIn(member)).json().code).toBe('AUTH.SIGN_IN_FAILED');
    expect((await signIn(member, { password: 'a long enough passphrase' })).statusCode).toBe(201);
  });

  it('needs a session, not an API key, for the session endpoints', async () => {
    const member = await app.addStaff('representative');
    const response = await app.call(member.apiKey, 'GET', '/api/v1/staff-session');
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('AUTH.FORBIDDEN');
  });
});

describe('administration: staff members and API keys', () => {
  it('lets an admin add a staff member who then signs in with the password and TOTP secret handed over', async () => {
    const admin = await app.addStaff('admin');
    const created = await app.call(admin.apiKey, 'POST', '/api/v1/staff-users', {
      email: 'New.Starter@amend.test',
      displayName: 'New Starter',
      role: 'representative',
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body.totpUri).toMatch(/^otpauth:\/\/totp\/Amend:new.starter%40amend.test\?/);
    app.clock.advance(30_000);
    const response = await app.server.inject({
      method: 'POST',
      url: '/api/v1/staff-sessions',
      remoteAddress: nextAddress(),
      payload: {
        email: 'new.starter@amend.test',
        password: body.initialPassword,
        code: staffCredentialKit.totpCode(body.totpSecret, app.clock.now()),
      },
    });
    expect(response.statusCode).toBe(201);
    const again = await app.call(admin.apiKey, 'POST', '/api/v1/staff-users', {
      email: 'new.starter@amend.test',
      displayName: 'Twice',
      role: 'representative',
    });
    expect(again.json().code).toBe('STAFF.EMAIL_TAKEN');
    const manager = await app.addStaff('manager');
    expect((await app.call(manager.apiKey, 'GET', '/api/v1/staff-users')).statusCode).toBe(403);
  });

  it('issues scoped integration keys that do only what they are scoped for, and revokes keys at once', async () => {
    const admin = await app.addStaff('admin');
    const customer = await app.addCustomer();
    const issued = await app.call(admin.apiKey, 'POST', '/api/v1/api-keys', {
      name: 'Read-only CRM sync',
      scopes: ['customer.read'],
    });
    expect(issued.statusCode).toBe(201);
    const { id, apiKey } = issued.json();
    expect(apiKey).toMatch(/^amk_/);
    expect((await app.call(apiKey, 'GET', `/api/v1/customers/${customer.id}`)).statusCode).toBe(200);
    const outOfScope = await app.call(apiKey, 'POST', '/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Nope' }],
      confirmSubmittedValues: true,
    });
    expect(outOfScope.statusCode).toBe(403);
    expect(outOfScope.json().detail).toMatch(/not scoped for "change_request.submit"/);

    const badScope = await app.call(admin.apiKey, 'POST', '/api/v1/api-keys', {
      name: 'x',
      scopes: ['everything'],
    });
    expect(badScope.statusCode).toBe(400);

    const listed = (await app.call(admin.apiKey, 'GET', '/api/v1/api-keys')).json().items;
    const summary = listed.find((key: { id: string }) => key.id === id);
    expect(summary).toMatchObject({ name: 'Read-only CRM sync', scopes: ['customer.read'], revokedAt: null });
    expect(summary.lastUsedAt).not.toBeNull();
    expect(JSON.stringify(listed)).not.toContain(apiKey);

    expect((await app.call(admin.apiKey, 'DELETE', `/api/v1/api-keys/${id}`)).statusCode).toBe(204);
    const afterRevoke = await app.call(apiKey, 'GET', `/api/v1/customers/${customer.id}`);
    expect(afterRevoke.statusCode).toBe(401);
    expect((await app.call(admin.apiKey, 'DELETE', `/api/v1/api-keys/${id}`)).json().code).toBe(
      'API_KEY.NOT_FOUND',
    );
  });
});
