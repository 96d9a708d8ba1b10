/**
 * Errors keep their cause (issue 10, item 2): a refused send is logged with its stack and the
 * provider's own error as its cause, not a flattened sentence.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../src/shared/errors.ts';
import { DeliveryError } from '../src/delivery/channels/types.ts';
import { person, startStack, type Stack } from './support/stack.ts';
import { waitUntil } from './support/wait.ts';

describe('errors keep their cause', () => {
  it('AppError and DeliveryError take { cause }', () => {
    const root = new Error('socket hang up');
    assert.equal(new AppError('not_ready', 'The database does not answer', undefined, { cause: root }).cause, root);
    assert.equal(new DeliveryError('SMTP error', false, {}, undefined, { cause: root }).cause, root);
  });

  describe('a mail server that refuses the recipient (550)', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({ smtp: { rejectRecipients: /^refused\./ } });
    });
    after(() => stack?.close());

    it("logs 'message failed' with the error's stack and the SMTP server's answer as its cause", async () => {
      const p = { ...person('refused'), email: `refused.${Date.now()}@example.test` };
      assert.equal((await stack.api('POST', '/api/v1/auth/register', p)).status, 201);
      const line = await waitUntil(
        () =>
          stack.logs
            .map((l) => JSON.parse(l) as { msg?: string; err?: { type?: string; stack?: string } })
            .find((l) => l.msg === 'message failed'),
        { timeoutMs: 15_000, what: "the worker's 'message failed' line" },
      );
      assert.equal(line.err?.type, 'DeliveryError');
      // pino writes the cause chain into the stack: ours, then nodemailer's own error with the server's words
      assert.match(line.err?.stack ?? '', /^DeliveryError: SMTP .*550/);
      assert.match(
        line.err?.stack ?? '',
        /\ncaused by: Error: .*550 Mailbox unavailable[\s\S]*nodemailer/,
        line.err?.stack,
      );
    });
  });
});
