/**
 * A provider's error as a message event keeps it (delivery/provider-error.ts): whole when it fits in
 * 1000 characters of JSON, else its long texts cut, else the beginning of its JSON.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keptProviderError } from '../src/delivery/provider-error.ts';

const size = (value: unknown) => JSON.stringify(value).length;

describe('keptProviderError', () => {
  it('keeps an error that fits as it is', () => {
    const smtp = { code: 'EENVELOPE', command: 'RCPT TO', responseCode: 550, response: '550 5.1.1 user unknown' };
    assert.deepEqual(keptProviderError(smtp), smtp);
  });

  it('cuts the long texts, deep ones too, and keeps the numbers and short codes whole', () => {
    const kept = keptProviderError({
      status: 400,
      body: { code: 21211, message: 'y'.repeat(3000), details: ['z'.repeat(3000)], more_info: 'https://x.test/21211' },
    }) as { status: number; body: { code: number; message: string; details: string[]; more_info: string } };
    assert.ok(size(kept) <= 1000, `${size(kept)} characters`);
    assert.equal(kept.status, 400);
    assert.equal(kept.body.code, 21211);
    assert.equal(kept.body.more_info, 'https://x.test/21211');
    assert.match(kept.body.message, /^y+…$/);
    assert.match(kept.body.details[0], /^z+…$/);
  });

  it('an answer too long even with its texts cut keeps the beginning of its JSON, escapes counted', () => {
    const list = { errors: Array.from({ length: 500 }, (_, i) => ({ field: `"f${i}"`, code: i })) };
    const kept = keptProviderError(list);
    assert.ok(size(kept) <= 1000, `${size(kept)} characters`);
    assert.ok(JSON.stringify(list).startsWith((kept as { cut: string }).cut));
  });

  it('takes the bound it is given', () => {
    assert.ok(size(keptProviderError({ message: 'w'.repeat(500) }, 100)) <= 100);
  });
});
