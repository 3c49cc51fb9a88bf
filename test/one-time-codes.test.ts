import { sql } from 'kysely';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpMailer } from '../src/adapters/mail/smtp-mailer.ts';
import type { Customer } from '../src/core/customer-types.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

const inbox: ParsedMail[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, _session, callback) {
    simpleParser(stream).then((mail) => {
      inbox.push(mail);
      callback();
    }, callback);
  },
});
let app: TestApp;
let mailer: ReturnType<typeof createSmtpMailer>;
let representative: { id: string; apiKey: string };
let manager: { id: string; apiKey: string };

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  mailer = createSmtpMailer(
    `smtp://127.0.0.1:${(smtp.server.address() as { port: number }).port}`,
    'Amend <no-reply@amend.test>',
  );
  app = await createTestApp({ mailer });
  representative = await app.addStaff('representative');
  manager = await app.addStaff('manager');
});
afterAll(async () => {
  mailer.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await app.close();
});

const call = (path: string, body: unknown) => app.call(representative.apiKey, 'POST', path, body);
const codeIn = (text: string | undefined) => /\b(\d{6})\b/.exec(text ?? '')![1]!;
const lastMailTo = (address: string) =>
  inbox.filter((m) => !Array.isArray(m.to) && m.to?.value.some((to) => to.address === address)).at(-1);

async function emailChange(customer: Customer) {
  return (
    await call('/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'email', value: 'new.place@example.org' }],
    })
  ).json();
}

describe('one-time codes to a contact point on file', () => {
  it('sends the code to the address on file, never the one requested; a right code verifies, a wrong one says how many tries remain', async () => {
    const customer = await app.addCustomer({ email: 'on.file@example.com' });
    const request = await emailChange(customer);
    const sent = await call(`/api/v1/change-requests/${request.id}/otp`, { channel: 'email' });
    expect(sent.statusCode).toBe(202);
    expect(sent.json()).toMatchObject({ channel: 'email', sentTo: 'o***@example.com' });
    expect(lastMailTo('new.place@example.org')).toBeUndefined();
    const code = codeIn(lastMailTo('on.file@example.com')?.text);
    const { challengeId } = sent.json();

    const stored = await sql<{
      code_hash: string;
    }>`SELECT code_hash FROM otp_challenge WHERE id = ${challengeId}`.execute(app.database.db);
    expect(stored.rows[0]?.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.rows[0]?.code_hash).not.toContain(code);

    const wrongCode = code === '000000' ? '111111' : '000000';
    const wrong = await call(`/api/v1/change-requests/${request.id}/otp/check`, {
      challengeId,
      code: wrongCode,
    });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.json()).toMatchObject({ code: 'OTP.WRONG_CODE', attemptsLeft: 4 });
    const right = await call(`/api/v1/change-requests/${request.id}/otp/check`, { challengeId, code });
    expect(right.statusCode).toBe(200);
    expect(
      right
        .json()
        .verifications.map(
          (v: { method: string; outcome: string; recordedBy: { kind: string } }) =>
            `${v.method}:${v.outcome}:${v.recordedBy.kind}`,
        ),
    ).toEqual(['otp_on_file:failed:system', 'otp_on_file:passed:system']);
    expect(right.json().state).toBe('awaiting_verification'); // sensitive: a knowledge check is still needed
    const knowledge = await call(`/api/v1/change-requests/${request.id}/verify`, {
      method: 'knowledge_check',
      outcome: 'passed',
      evidence: { question: 'first-pet' },
    });
    expect(knowledge.json().state).toBe('awaiting_confirmation');
    expect(
      (await call(`/api/v1/change-requests/${request.id}/otp/check`, { challengeId, code })).json().code,
    ).toBe('OTP.NOT_USABLE');
    const audit = (
      await app.call(
        manager.apiKey,
        'GET',
        `/api/v1/audit?changeRequestId=${request.id}&action=change_request.verification_recorded`,
      )
    ).json();
    expect(JSON.stringify(audit)).not.toContain('on.file@example.com');
  });

  it('sends by SMS (into the mail catcher in development), and refuses an expired code', async () => {
    const customer = await app.addCustomer({ phone: '+61412777888' });
    const request = (
      await call('/api/v1/change-requests', {
        customerId: customer.id,
        changes: [
          {
            field: 'postalAddress',
            value: {
              lines: ['2 Elm St'],
              locality: 'Fitzroy',
              region: 'VIC',
              postcode: '3065',
              country: 'AU',
            },
          },
        ],
      })
    ).json();
    const sent = (await call(`/api/v1/change-requests/${request.id}/otp`, { channel: 'sms' })).json();
    expect(sent.sentTo).toBe('*********888');
    const sms = (await app.call(manager.apiKey, 'GET', '/api/v1/mail?to=%2B61412777888')).json().items[0];
    expect(sms.subject).toBe('SMS');
    app.clock.advance(11 * 60_000);
    const late = await call(`/api/v1/change-requests/${request.id}/otp/check`, {
      challengeId: sent.challengeId,
      code: codeIn(sms.text),
    });
    expect(late.json().code).toBe('OTP.NOT_USABLE');
    const again = (await call(`/api/v1/change-requests/${request.id}/otp`, { channel: 'sms' })).json();
    const fresh = (await app.call(manager.apiKey, 'GET', '/api/v1/mail?to=%2B61412777888')).json().items[0];
    const verified = (
      await call(`/api/v1/change-requests/${request.id}/otp/check`, {
        challengeId: again.challengeId,
        code: codeIn(fresh.text),
      })
    ).json();
    expect(verified.state).toBe('awaiting_confirmation'); // standard tier: a code on file is enough
  });

  it('will not text a code to a landline', async () => {
    const customer = await app.addCustomer({ phone: '+61293744000' });
    const request = (
      await call('/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'preferredName', value: 'Lana' }],
      })
    ).json();
    const refused = (await call(`/api/v1/change-requests/${request.id}/otp`, { channel: 'sms' })).json();
    expect(refused).toMatchObject({ code: 'OTP.NO_CONTACT_ON_FILE' });
    expect(refused.detail).toContain('landline');
  });

  it('refuses a channel with nothing on file', async () => {
    const customer = await app.addCustomer({ phone: null as never });
    const request = (
      await call('/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'preferredName', value: 'Pia' }],
      })
    ).json();
    expect((await call(`/api/v1/change-requests/${request.id}/otp`, { channel: 'sms' })).json().code).toBe(
      'OTP.NO_CONTACT_ON_FILE',
    );
  });
});

describe('account facts checked against the record', () => {
  it('passes a matching answer, fails another, and refuses a fact the record lacks', async () => {
    const customer = await app.addCustomer({ dateOfBirth: '1980-02-29' });
    const request = (
      await call('/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'phone', value: '0499 321 654' }],
      })
    ).json();
    const wrong = (
      await call(`/api/v1/change-requests/${request.id}/account-fact`, {
        fact: 'dateOfBirth',
        answer: '1980-03-01',
      })
    ).json();
    expect(wrong).toMatchObject({ isCorrect: false, state: 'awaiting_verification' });
    const postcode = (
      await call(`/api/v1/change-requests/${request.id}/account-fact`, { fact: 'postcode', answer: ' 3053 ' })
    ).json();
    expect(postcode.isCorrect).toBe(true);
    const noCard = await call(`/api/v1/change-requests/${request.id}/account-fact`, {
      fact: 'paymentLast4',
      answer: '4242',
    });
    expect(noCard.json().code).toBe('VERIFICATION.EVIDENCE_MISSING');
    const birthday = (
      await call(`/api/v1/change-requests/${request.id}/account-fact`, {
        fact: 'dateOfBirth',
        answer: '1980-02-29',
      })
    ).json();
    expect(
      birthday.verifications
        .filter((v: { method: string; outcome: string }) => v.method === 'account_fact')
        .map((v: { outcome: string }) => v.outcome),
    ).toEqual(['failed', 'passed', 'passed']);
  });
});

describe('security questions', () => {
  it('keeps answers only as argon2id hashes and checks them, forgiving case and punctuation', async () => {
    const lead = await app.addStaff('team_lead');
    const customer = await app.addCustomer();
    const questions = [
      { question: 'Name of your first school?', answer: "St. Mary's Primary" },
      { question: 'Your first pet?', answer: 'Biscuit' },
    ];
    // POST is not how answers are set: the path names the method that is.
    const posted = await call(`/api/v1/customers/${customer.id}/security-questions`, { questions });
    expect(posted.statusCode).toBe(405);
    expect(String(posted.headers.allow).split(', ')).toContain('PUT');
    expect(
      (
        await app.call(representative.apiKey, 'PUT', `/api/v1/customers/${customer.id}/security-questions`, {
          questions,
        })
      ).json().code,
    ).toBe('AUTH.FORBIDDEN');
    const set = await app.call(lead.apiKey, 'PUT', `/api/v1/customers/${customer.id}/security-questions`, {
      questions,
    });
    expect(set.json()).toEqual({ questions: ['Name of your first school?', 'Your first pet?'] });
    const stored = await sql<{
      answer_hash: string;
    }>`SELECT answer_hash FROM security_question WHERE customer_id = ${customer.id}`.execute(app.database.db);
    for (const row of stored.rows) {
      expect(row.answer_hash).toMatch(/^\$argon2id\$/);
      expect(row.answer_hash.toLowerCase()).not.toContain('biscuit');
    }
    expect(
      (
        await app.call(representative.apiKey, 'GET', `/api/v1/customers/${customer.id}/security-questions`)
      ).json().questions,
    ).toHaveLength(2);

    const request = (
      await call('/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'preferredName', value: 'Mo' }],
      })
    ).json();
    const wrong = (
      await call(`/api/v1/change-requests/${request.id}/knowledge-check`, {
        question: 'Your first pet?',
        answer: 'Rex',
      })
    ).json();
    expect(wrong).toMatchObject({ isCorrect: false, state: 'awaiting_verification' });
    const right = (
      await call(`/api/v1/change-requests/${request.id}/knowledge-check`, {
        question: 'Name of your first school?',
        answer: '  st marys   primary ',
      })
    ).json();
    expect(right).toMatchObject({ isCorrect: true, state: 'awaiting_confirmation' });
    expect(
      right.verifications.map(
        (v: { method: string; outcome: string; recordedBy: { kind: string } }) =>
          `${v.method}:${v.outcome}:${v.recordedBy.kind}`,
      ),
    ).toEqual(['knowledge_check:failed:system', 'knowledge_check:passed:system']);
    const unknown = await call(`/api/v1/change-requests/${request.id}/knowledge-check`, {
      question: 'Mother’s maiden name?',
      answer: 'x',
    });
    expect(unknown.json().code).toBe('VERIFICATION.EVIDENCE_MISSING');
  });
});

describe('lockout after repeated failures', () => {
  it('declines on the fifth failure within 15 minutes, lists the alternatives, and locks changes for the cool-down', async () => {
    const customer = await app.addCustomer({ email: 'locked.out@example.com' });
    const request = await emailChange(customer);
    const { challengeId } = (
      await call(`/api/v1/change-requests/${request.id}/otp`, { channel: 'email' })
    ).json();
    const code = codeIn(lastMailTo('locked.out@example.com')?.text);
    const wrongCode = code === '000000' ? '111111' : '000000';
    for (let attempt = 1; attempt <= 4; attempt += 1)
      expect(
        (
          await call(`/api/v1/change-requests/${request.id}/otp/check`, { challengeId, code: wrongCode })
        ).json().attemptsLeft,
      ).toBe(5 - attempt);
    const fifth = await call(`/api/v1/change-requests/${request.id}/otp/check`, {
      challengeId,
      code: wrongCode,
    });
    expect(fifth.statusCode).toBe(423);
    expect(fifth.json().code).toBe('CUSTOMER.VERIFICATION_LOCKED');
    expect(fifth.json().alternatives[0]).toMatch(
      /Other ways to verify.*government-issued identity document.*in person/,
    );
    expect((await app.store.findChangeRequest(request.id))?.state).toBe('declined');

    const blocked = await call('/api/v1/change-requests', {
      customerId: customer.id,
      changes: [{ field: 'preferredName', value: 'Lou' }],
    });
    expect(blocked.statusCode).toBe(423);
    expect(blocked.json().lockedUntil).toBeDefined();
    app.clock.advance(61 * 60_000);
    expect(
      (
        await call('/api/v1/change-requests', {
          customerId: customer.id,
          changes: [{ field: 'preferredName', value: 'Lou' }],
        })
      ).statusCode,
    ).toBe(201);
    const audit = (
      await app.call(
        manager.apiKey,
        'GET',
        `/api/v1/audit?customerId=${customer.id}&action=customer.verification_locked`,
      )
    ).json();
    expect(audit.items[0].details).toMatchObject({ failures: 5 });
  });
});

describe('self-service sign-in and the recent-session check', () => {
  it('signs a customer in by a code to the email on file, lets them change their own basic details, and makes an old sign-in step up', async () => {
    const customer = await app.addCustomer({ email: 'self.service@example.com' });
    const other = await app.addCustomer();
    const signIn = async () => {
      const { challengeId } = (
        await app.server.inject({
          method: 'POST',
          url: '/api/v1/customer-sessions',
          payload: { email: 'Self.Service@example.com' },
        })
      ).json();
      const code = codeIn(lastMailTo('self.service@example.com')?.text);
      const wrong = await app.server.inject({
        method: 'POST',
        url: '/api/v1/customer-sessions/verify',
        payload: { challengeId, code: code === '000000' ? '111111' : '000000' },
      });
      expect(wrong.json().code).toBe('OTP.WRONG_CODE');
      const verified = await app.server.inject({
        method: 'POST',
        url: '/api/v1/customer-sessions/verify',
        payload: { challengeId, code },
      });
      expect(verified.statusCode).toBe(201);
      return verified.json().token as string;
    };
    const before = inbox.length;
    expect(
      (
        await app.server.inject({
          method: 'POST',
          url: '/api/v1/customer-sessions',
          payload: { email: 'nobody@example.com' },
        })
      ).statusCode,
    ).toBe(202);
    expect(inbox.length).toBe(before);

    let token = await signIn();
    const asCustomer = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
      app.call(token, method, url, payload);
    const address = {
      lines: ['5 Oak Lane'],
      locality: 'Carlton',
      region: 'VIC',
      postcode: '3053',
      country: 'AU',
    };
    const moved = (
      await asCustomer('POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'postalAddress', value: address }],
        confirmSubmittedValues: true,
      })
    ).json();
    expect(moved).toMatchObject({ channel: 'self_service', state: 'propagating' });
    expect(moved.verifications.map((v: { method: string }) => v.method)).toEqual(['recent_session']);
    expect(
      (
        await asCustomer('POST', '/api/v1/change-requests', {
          customerId: customer.id,
          changes: [{ field: 'email', value: 'x@example.org' }],
        })
      ).json().code,
    ).toBe('POLICY.SELF_SERVICE_NOT_ALLOWED');
    expect(
      (
        await asCustomer('POST', '/api/v1/change-requests', {
          customerId: other.id,
          changes: [{ field: 'preferredName', value: 'Eve' }],
        })
      ).statusCode,
    ).toBe(404);
    const othersRequest = (
      await call('/api/v1/change-requests', {
        customerId: other.id,
        changes: [{ field: 'preferredName', value: 'Olga' }],
      })
    ).json();
    expect((await asCustomer('GET', `/api/v1/change-requests/${othersRequest.id}`)).statusCode).toBe(404);
    expect((await asCustomer('GET', `/api/v1/change-requests/${moved.id}`)).statusCode).toBe(200);
    expect((await asCustomer('GET', '/api/v1/audit')).json().code).toBe('AUTH.FORBIDDEN');

    app.clock.advance(16 * 60_000);
    const phone = (
      await asCustomer('POST', '/api/v1/change-requests', {
        customerId: customer.id,
        changes: [{ field: 'phone', value: '0499 654 321' }],
        confirmSubmittedValues: true,
      })
    ).json();
    expect(phone.state).toBe('awaiting_verification');
    expect((await asCustomer('POST', `/api/v1/change-requests/${phone.id}/recent-session`)).json().code).toBe(
      'AUTH.UNAUTHENTICATED',
    );
    token = await signIn();
    const stepped = (
      await app.call(token, 'POST', `/api/v1/change-requests/${phone.id}/recent-session`)
    ).json();
    expect(stepped.state).toBe('awaiting_confirmation'); // the number was normalised, so the customer confirms it
    const confirmed = (
      await app.call(token, 'POST', `/api/v1/change-requests/${phone.id}/confirm`, { revision: 1 })
    ).json();
    expect(confirmed.state).toBe('propagating');
    expect((await app.store.findCustomer(customer.id))?.phone).toBe('+61499654321');

    app.clock.advance(31 * 60_000);
    expect((await app.call(token, 'GET', `/api/v1/change-requests/${phone.id}`)).statusCode).toBe(401);
  });
});

describe('limits on the public endpoints', () => {
  const ask = (remoteAddress: string, email: string) =>
    app.server.inject({
      method: 'POST',
      url: '/api/v1/customer-sessions',
      payload: { email },
      remoteAddress,
    });

  it('answers 429 problem+json with Retry-After once one address asks for too many sign-in codes, and only that address', async () => {
    for (let i = 0; i < 10; i++)
      expect((await ask('192.0.2.10', `nobody${i}@example.com`)).statusCode).toBe(202);
    const refused = await ask('192.0.2.10', 'nobody10@example.com');
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.json().code).toBe('REQUEST.RATE_LIMITED');
    expect((await ask('192.0.2.11', 'nobody11@example.com')).statusCode).toBe(202);
  });

  it('limits codes per email address too, whichever addresses ask', async () => {
    for (let i = 0; i < 5; i++)
      expect((await ask(`198.51.100.${i + 1}`, 'Target@Example.com')).statusCode).toBe(202);
    const refused = await ask('198.51.100.99', 'target@example.com');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe('REQUEST.RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await ask('198.51.100.99', 'someone.else@example.com')).statusCode).toBe(202);
  });
});

describe('self-service sign-in by text message', () => {
  it('texts a code to the mobile on file, and answers alike for a landline or an unknown number', async () => {
    const customer = await app.addCustomer({ phone: '+61412777333' });
    await app.addCustomer({ phone: '+61398765432' });
    const ask = (phone: string) =>
      app.server.inject({
        method: 'POST',
        url: '/api/v1/customer-sessions',
        payload: { phone },
        remoteAddress: '203.0.113.77',
      });
    const texts = async (to: string) => (await app.store.listCaughtMail({ recipient: to, limit: 10 })).items;

    const started = await ask('+61412777333');
    expect(started.statusCode).toBe(202);
    const [sms] = await texts('+61412777333');
    expect(sms?.subject).toBe('SMS');
    const code = /\b(\d{6})\b/.exec(sms!.text)![1]!;
    const verified = await app.server.inject({
      method: 'POST',
      url: '/api/v1/customer-sessions/verify',
      payload: { challengeId: started.json().challengeId, code },
      remoteAddress: '203.0.113.77',
    });
    expect(verified.statusCode).toBe(201);
    expect(verified.json().customerId).toBe(customer.id);

    for (const phone of ['+61398765432', '+61499000111']) {
      const response = await ask(phone);
      expect(response.statusCode).toBe(202);
      expect(response.json().message).toBe(started.json().message);
      expect(await texts(phone)).toEqual([]);
    }
    const malformed = await ask('0412 777 333');
    expect(malformed.statusCode).toBe(400);
  });
});

describe('wrong sign-in codes per customer', () => {
  it('stops accepting codes for a customer after 10 wrong ones in 15 minutes, across challenges and addresses', async () => {
    await app.addCustomer({ email: 'guess.target@example.com' });
    const start = async (remoteAddress: string) =>
      (
        await app.server.inject({
          method: 'POST',
          url: '/api/v1/customer-sessions',
          payload: { email: 'guess.target@example.com' },
          remoteAddress,
        })
      ).json().challengeId as string;
    const guess = (challengeId: string, remoteAddress: string, code = '000000') =>
      app.server.inject({
        method: 'POST',
        url: '/api/v1/customer-sessions/verify',
        payload: { challengeId, code },
        remoteAddress,
      });
    for (let round = 0; round < 2; round++) {
      const challengeId = await start(`192.0.2.${50 + round}`);
      for (let i = 0; i < 5; i++) {
        const response = await guess(challengeId, `192.0.2.${60 + round * 5 + i}`, '999999');
        // A wrong guess (or, by bad luck, the right one) counts; the point is the limit after ten.
        expect([201, 422]).toContain(response.statusCode);
      }
    }
    const challengeId = await start('192.0.2.99');
    const code = codeIn(lastMailTo('guess.target@example.com')?.text);
    const refused = await guess(challengeId, '192.0.2.100', code);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().code).toBe('REQUEST.RATE_LIMITED');
    expect(refused.headers['retry-after']).toBe('900');
    app.clock.advance(16 * 60_000);
    const fresh = await start('192.0.2.101');
    expect(
      (await guess(fresh, '192.0.2.102', codeIn(lastMailTo('guess.target@example.com')?.text))).statusCode,
    ).toBe(201);
  });
});
