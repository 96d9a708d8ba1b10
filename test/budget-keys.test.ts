/**
 * The keys budgets are counted on (issue 18): one mailbox however it is spelled, one network however
 * many addresses it holds, and the long code however it is typed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mailboxKey } from '../src/shared/addresses.ts';
import { generateLongCode, normalizeLongCode, LONG_CODE_LENGTH } from '../src/otp/codes.ts';
import { networkOf } from '../src/shared/trust-proxy.ts';

describe('mailboxKey: one inbox, one key', () => {
  it('drops a +tag on every domain and ignores case', () => {
    for (const a of ['ann@example.test', 'Ann+news@Example.TEST', 'ANN+a.b+c@example.test', ' ann@example.test '])
      assert.equal(mailboxKey(a), 'ann@example.test', a);
  });
  it('ignores dots where Google does, and reads googlemail.com as gmail.com', () => {
    for (const a of ['victim@gmail.com', 'v.ictim+2@gmail.com', 'VICTIM+x3@googlemail.com', 'v.i.c.t.i.m@GMAIL.COM'])
      assert.equal(mailboxKey(a), 'victim@gmail.com', a);
  });
  it('keeps dots elsewhere, a local part that is only a tag, and phone numbers as they are', () => {
    assert.equal(mailboxKey('a.nn@example.test'), 'a.nn@example.test');
    assert.notEqual(mailboxKey('a.nn@example.test'), mailboxKey('ann@example.test'));
    assert.equal(mailboxKey('+tag@example.test'), '+tag@example.test');
    assert.equal(mailboxKey('+27825550123'), '+27825550123');
  });
});

describe('networkOf: the budget of a network, not of an address', () => {
  it('an IPv4 /24, the same for an IPv4-mapped IPv6 address', () => {
    assert.equal(networkOf('198.51.100.7'), '198.51.100.0/24');
    assert.equal(networkOf('::ffff:198.51.100.200'), '198.51.100.0/24');
    assert.notEqual(networkOf('198.51.101.7'), networkOf('198.51.100.7'));
  });
  it('an IPv6 /48', () => {
    assert.equal(networkOf('2001:db8:aa:bb::1'), '2001:db8:aa::/48');
    assert.equal(networkOf('2001:db8:aa:ffff:1:2:3:4'), '2001:db8:aa::/48');
  });
  it('a value that is not an address falls back to the socket peer, then to one shared "unknown"', () => {
    assert.equal(networkOf('not an address', '203.0.113.9'), '203.0.113.0/24');
    assert.equal(networkOf('junk', undefined), 'unknown');
  });
});

describe('the long code', () => {
  it('16 characters of Crockford base32 in groups of four: 80 bits', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const code = generateLongCode();
      assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
      seen.add(code);
    }
    assert.equal(seen.size, 200);
    assert.equal(LONG_CODE_LENGTH * Math.log2(32), 80);
  });
  it('is read however it is typed: case, spaces, dashes, O for 0, I or L for 1', () => {
    assert.equal(normalizeLongCode('k7qm 3xjd-9twp r2hb'), 'K7QM3XJD9TWPR2HB');
    assert.equal(normalizeLongCode('O1IL-0000-0000-0000'), '0111000000000000');
  });
  it('a short code, a wrong length or a letter outside the alphabet is none', () => {
    for (const s of ['123456', 'K7QM-3XJD-9TWP-R2H', 'K7QM-3XJD-9TWP-R2HBX', 'K7QM-3XJD-9TWP-R2HU'])
      assert.equal(normalizeLongCode(s), undefined, s);
  });
});
