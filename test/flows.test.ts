import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routeTable } from './support/routes.ts';
import { errorCode, expectStatus } from './support/api.ts';
import { databaseKinds, person, startStack, verifiedLogin, type Stack } from './support/stack.ts';

for (const db of await databaseKinds()) {
  describe(`account flows over HTTP (${db})`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ db });
    });
    after(() => stack.close());

    it('registers, emails a code over STARTTLS+AUTH, verifies it and logs in', async () => {
      const p = person('flow');
      const reg = await stack.api('POST', '/api/v1/auth/register', {
        ...p,
        email: p.email.toUpperCase(),
        phone: '082 555 0123',
      });
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.body.user.email, p.email);
      assert.equal(reg.body.user.phone, '+27825550123');
      assert.equal(reg.body.user.email_verified, false);
      assert.equal(reg.body.verification.expires_in_minutes, 10);
      assert.ok(Date.parse(reg.body.verification.expires_at) > Date.now());
      assert.ok(!('password_hash' in reg.body.user) && !reg.text.includes(p.password));

      const mail = await stack.smtp.waitFor(p.email);
      assert.equal(mail.secure, true, 'mail went over TLS');
      assert.match(mail.subject, /verify your email/i);
      assert.match(mail.text, /never share this code/i);
      assert.match(mail.html, /Never share this code/);
      const otp = (mail.text.match(/\b(\d{6})\b/) ?? [])[1];
      assert.ok(otp);
      assert.match(mail.text, /expires in 10 minutes/);

      const early = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.equal(early.status, 403);
      assert.equal(early.body.error.code, 'email_not_verified');
      assert.match(
        early.body.error.message,
        /\(POST \/api\/v1\/auth\/verify-account\).*\(POST \/api\/v1\/auth\/resend-verification\)/,
      );

      const wrong = await stack.api('POST', '/api/v1/auth/verify-account', {
        email: p.email,
        otp: otp === '000000' ? '111111' : '000000',
      });
      assert.equal(errorCode(wrong), 'otp_invalid');
      const ver = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp });
      assert.equal(ver.status, 200, ver.text);
      assert.equal(ver.body.is_verified, true);
      const again = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp });
      assert.equal(errorCode(again), 'otp_invalid', 'a code works once');

      const login = await stack.api('POST', '/api/v1/auth/login', {
        email: p.email.toUpperCase(),
        password: p.password,
      });
      assert.equal(login.status, 200, login.text);
      assert.equal(login.body.token_type, 'bearer');
      assert.equal(login.body.expires_in, 900);
      const me = await stack.api('GET', '/api/v1/auth/me', undefined, login.body.access_token);
      assert.equal(me.status, 200);
      assert.deepEqual(Object.keys(me.body).sort(), [
        'created_at',
        'email',
        'email_verified',
        'first_name',
        'id',
        'last_name',
        'locale',
        'phone',
        'phone_verified',
      ]);
      assert.equal(me.body.email_verified, true);
      const alias = await stack.api('GET', '/api/v1/users/me', undefined, login.body.access_token);
      assert.deepEqual(alias.body, me.body);
    });

    it('answers 409 email_taken for a second account with a verified email, in any case', async () => {
      const { person: p } = await verifiedLogin(stack, 'dup');
      const dup = await stack.api('POST', '/api/v1/auth/register', { ...p, email: p.email.toUpperCase() });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'email_taken');
    });

    it('the /users/register alias answers 200 and takes no password', async () => {
      const p = person('alias');
      const { password: _unused, ...noPassword } = p;
      const reg = await stack.api('POST', '/api/v1/users/register', noPassword);
      assert.equal(reg.status, 200, reg.text);
      assert.equal(reg.body.user.email, p.email);
      assert.ok(await stack.emailCode(p.email));
    });

    it('refuses an invalid phone number with 400', async () => {
      const res = await stack.api('POST', '/api/v1/auth/register', { ...person('badphone'), phone: '12345' });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'invalid_phone');
    });

    it('resend-verification sends a new code and kills the old one', async () => {
      const p = person('resend');
      await stack.api('POST', '/api/v1/auth/register', p);
      const first = await stack.emailCode(p.email, 1);
      const res = await stack.api('POST', '/api/v1/auth/resend-verification', { email: p.email });
      assert.equal(res.status, 200);
      assert.equal(res.body.expires_in_minutes, 10);
      const second = await stack.emailCode(p.email, 2);
      if (first !== second) {
        const old = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: first });
        assert.equal(errorCode(old), 'otp_invalid');
      }
      const ok = await stack.api('POST', '/api/v1/auth/verify-account', { email: p.email, otp: second });
      assert.equal(ok.status, 200);
    });

    it('verifies a phone by SMS through the Twilio API, also a new number', async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'phone');
      const send = await stack.api('POST', '/api/v1/users/verify-phone', {}, tokens.access_token);
      assert.equal(send.status, 200, send.text);
      assert.equal(send.body.phone, p.phone);
      const sms = await stack.sms.waitFor(p.phone);
      assert.equal(sms.from, '+15005550006');
      assert.match(sms.body, /never share this code/i);
      const otp = sms.body.match(/\b(\d{6})\b/)![1];
      const ver = await stack.api('POST', '/api/v1/users/verify-otp', { otp_code: otp }, tokens.access_token);
      assert.equal(ver.status, 200, ver.text);
      assert.equal(ver.body.phone_verified, true);

      const other = person('newphone').phone;
      const change = await stack.api(
        'POST',
        '/api/v1/users/verify-phone',
        { phone: other, password: p.password },
        tokens.access_token,
      );
      assert.equal(change.status, 200, change.text);
      assert.equal(change.body.phone, other);
      const code = await stack.smsCode(other);
      const done = await stack.api('POST', '/api/v1/users/verify-otp', { otp: code }, tokens.access_token);
      assert.equal(done.status, 200, done.text);
      assert.equal(done.body.user.phone, other);
      const me = await stack.api('GET', '/api/v1/auth/me', undefined, tokens.access_token);
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.phone, other);
      assert.equal(me.body.phone_verified, true);
    });

    it('rotates refresh tokens, and logout revokes the session', async () => {
      const { tokens } = await verifiedLogin(stack, 'refresh');
      const next = await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token });
      assert.equal(next.status, 200, next.text);
      assert.notEqual(next.body.refresh_token, tokens.refresh_token);
      const asAccess = await stack.api('GET', '/api/v1/auth/me', undefined, next.body.refresh_token);
      assert.equal(asAccess.status, 401, 'a refresh token is not an access token');

      const out = await stack.api(
        'POST',
        '/api/v1/auth/logout',
        { refresh_token: next.body.refresh_token },
        next.body.access_token,
      );
      assert.equal(out.status, 200, out.text);
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: next.body.refresh_token })).status,
        401,
      );
      assert.equal((await stack.api('GET', '/api/v1/auth/me', undefined, next.body.access_token)).status, 401);
    });

    it('resets a password with an emailed code and revokes every session', async () => {
      const { person: p, tokens } = await verifiedLogin(stack, 'reset');
      const forgot = await stack.api('POST', '/api/v1/auth/forgot-password', { email: p.email });
      assert.equal(forgot.status, 200);
      const otp = await stack.emailCode(p.email, 2);
      const reset = await stack.api('POST', '/api/v1/auth/reset-password', {
        email: p.email,
        otp,
        new_password: 'a brand new secret',
      });
      assert.equal(reset.status, 200, reset.text);
      assert.equal((await stack.api('GET', '/api/v1/auth/me', undefined, tokens.access_token)).status, 401);
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/refresh', { refresh_token: tokens.refresh_token })).status,
        401,
      );
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password })).status,
        401,
      );
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: 'a brand new secret' })).status,
        200,
      );
    });

    it('throttles an account after 5 wrong passwords, and an unlock code lifts it', async () => {
      const { person: p } = await verifiedLogin(stack, 'throttle');
      for (let i = 0; i < 5; i++) {
        const bad = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: `wrong-${i}` });
        assert.equal(bad.status, 401);
        assert.equal(bad.body.error.code, 'invalid_credentials');
      }
      const blocked = await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password });
      assert.equal(blocked.status, 429);
      assert.equal(blocked.body.error.code, 'rate_limited');
      // the domain names the step, the HTTP layer its route
      assert.match(
        blocked.body.error.message,
        /Or ask for an unlock code: POST \/api\/v1\/auth\/request-unlock-otp\.$/,
      );
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);

      const req = await stack.api('POST', '/api/v1/auth/request-unlock-otp', {
        identifier: p.email,
        delivery_method: 'email',
      });
      assert.equal(req.status, 200, req.text);
      const otp = await stack.emailCode(p.email, 2);
      const unlock = await stack.api('POST', '/api/v1/auth/verify-unlock-otp', { identifier: p.email, otp });
      assert.equal(unlock.status, 200, unlock.text);
      assert.equal(
        (await stack.api('POST', '/api/v1/auth/login', { email: p.email, password: p.password })).status,
        200,
      );
    });

    it('serves health, readiness and the OpenAPI document of every route', async () => {
      assert.equal(expectStatus(await stack.api('GET', '/health'), 200).status, 'ok');
      assert.equal(expectStatus(await stack.api('GET', '/health/ready'), 200).status, 'ready');
      const doc = await stack.request<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
        'GET',
        '/openapi.json',
      );
      assert.equal(doc.status, 200);
      assert.match(doc.body.openapi, /^3\./);
      // every route the app serves, but the documentation's own
      const served = routeTable(stack.runtime.app).filter(
        (r) => !r.path.startsWith('/docs') && r.path !== '/openapi.json',
      );
      assert.ok(
        served.some((r) => r.path.startsWith('/api/v1/')) && served.some((r) => r.path === '/health/ready'),
        JSON.stringify(served),
      );
      for (const { method, path } of served) {
        // the route table writes a parameter `:id`, OpenAPI `{id}`
        const documented = path.replace(/:(\w+)/g, '{$1}');
        assert.ok(doc.body.paths[documented]?.[method.toLowerCase()], `${method} ${path} is documented`);
      }
      const docs = await fetch(`${stack.baseUrl}/docs`, { redirect: 'follow' });
      assert.equal(docs.status, 200);
      assert.match(await docs.text(), /swagger/i);
    });
  });
}
