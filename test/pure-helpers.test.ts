/**
 * The pure helpers each on their own (issue 10): the client's budget bucket, TRUST_PROXY's forms and
 * the environment read by its schema (the hash gate has test/gate.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from 'typebox';
import { clientBucket, fastifyTrustProxy, isLoopback, parseTrustProxy } from '../src/shared/trust-proxy.ts';
import { readEnv } from '../src/config/read-env.ts';
import { apiErrorMessage } from '../src/cli/api-client.ts';
import { messageEventLines } from '../src/cli/message-events.ts';

describe('clientBucket', () => {
  it('an IPv4 address is its own bucket, also written as IPv4-mapped IPv6', () => {
    assert.equal(clientBucket('198.51.100.7', undefined), '198.51.100.7');
    assert.equal(clientBucket('::ffff:198.51.100.7', undefined), '198.51.100.7');
  });
  it('an IPv6 address counts in its /64, whatever the rest and a zone', () => {
    assert.equal(clientBucket('2001:db8:1:2:aaaa::1', undefined), '2001:db8:1:2::/64');
    assert.equal(clientBucket('2001:db8:1:2:ffff:ffff:ffff:ffff', undefined), '2001:db8:1:2::/64');
    assert.equal(clientBucket('fe80::1%eth0', undefined), 'fe80:0:0:0::/64');
  });
  it('a forwarded value that is no address falls back to the socket peer, else one shared bucket', () => {
    assert.equal(clientBucket('not-an-ip', '203.0.113.5'), '203.0.113.5');
    assert.equal(clientBucket('', undefined), 'unknown');
  });
});

describe('parseTrustProxy and fastifyTrustProxy', () => {
  it('off, every hop, a hop count, or addresses and CIDRs', () => {
    for (const off of [undefined, '', ' false ', '0']) assert.equal(parseTrustProxy(off), false, String(off));
    assert.equal(parseTrustProxy('TRUE'), true);
    assert.equal(parseTrustProxy('2'), 2);
    assert.deepEqual(parseTrustProxy('10.0.0.0/8, 192.0.2.7'), ['10.0.0.0/8', '192.0.2.7']);
  });
  it('anything else is refused with what to write instead', () => {
    assert.throws(() => parseTrustProxy('10.0.0.0/33'), /is not an address or CIDR: use a hop count/);
    assert.throws(() => parseTrustProxy('proxy.internal'), /"proxy\.internal" is not an address or CIDR/);
  });
  it('a hop count trusts the n nearest hops', () => {
    const trust = fastifyTrustProxy(2) as (addr: string, hop: number) => boolean;
    assert.deepEqual(
      [0, 1, 2].map((hop) => trust('10.0.0.1', hop)),
      [true, true, false],
    );
    assert.deepEqual(fastifyTrustProxy(['10.0.0.0/8']), ['10.0.0.0/8']);
  });
  it('isLoopback reads the socket peer: 127.0.0.0/8, ::1 and their mapped forms', () => {
    for (const a of ['127.0.0.1', '127.9.8.7', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
    for (const a of ['10.0.0.1', undefined, 'junk']) assert.equal(isLoopback(a), false, String(a));
  });
});

describe('readEnv', () => {
  const schema = Type.Object({
    PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8000 }),
    DEBUG: Type.Boolean({ default: false }),
    NAME: Type.Optional(Type.String()),
    MODE: Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'a' }),
  });
  it('converts by the declared type, fills defaults, and reads blank as unset', () => {
    const { value, problems } = readEnv(schema, { PORT: '  ', DEBUG: 'yes', NAME: '  thandi  ' });
    assert.deepEqual(problems, []);
    assert.deepEqual(value, { PORT: 8000, DEBUG: true, NAME: 'thandi', MODE: 'a' });
  });
  it('refuses what does not convert, naming every bad variable at once, with the allowed words', () => {
    const { problems } = readEnv(schema, { PORT: '6.5', DEBUG: 'maybe', MODE: 'c' });
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems.find((p) => p.startsWith('PORT:'))!, /integer/);
    assert.match(
      problems.find((p) => p.startsWith('DEBUG:'))!,
      /must be one of "true"\|"1"\|"yes"\|"on"\|"false"\|"0"\|"no"\|"off"/,
    );
    assert.ok(
      problems.some((p) => p.startsWith('MODE:')),
      problems.join('\n'),
    );
  });
});

describe("apiErrorMessage (the CLI's sentence for an API refusal)", () => {
  const refusal = (message: string) => ({ error: { code: 'rate_limited', message } });
  it('adds the Retry-After wait the API sentence leaves to the header, once', () => {
    assert.equal(
      apiErrorMessage(429, refusal('A code was sent here a moment ago. Wait before asking for another.'), '42'),
      'A code was sent here a moment ago. Wait before asking for another. Try again in 42 s. (rate_limited, HTTP 429)',
    );
    assert.match(apiErrorMessage(429, refusal('Slow down.'), '600'), /Try again in 10 minutes\./);
    const throttle = 'Too many failed sign-ins for this account. Try again in 30 s.';
    assert.equal(apiErrorMessage(429, refusal(throttle), '30'), `${throttle} (rate_limited, HTTP 429)`);
    assert.equal(apiErrorMessage(400, refusal('Bad.'), null), 'Bad. (rate_limited, HTTP 400)');
  });
});

describe('messageEventLines', () => {
  it('an event kind of three words reads as words (test_code_used: "test code used")', () => {
    const event = {
      at: '2031-05-04T10:00:00.000Z',
      kind: 'test_code_used',
      status: 'captured',
      provider: null,
      provider_status: null,
      provider_code: null,
      provider_id: null,
      duration_ms: null,
      error: null,
      provider_error: null,
      diagnosis: null,
    } as unknown as Parameters<typeof messageEventLines>[0][number];
    assert.deepEqual(messageEventLines([event]), ['2031-05-04T10:00:00.000Z  test code used → captured']);
  });
});
