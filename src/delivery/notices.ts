import type { Transaction } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import type { Services } from '../runtime/services.ts';
import type { Channel, Notice } from '../shared/vocabulary.ts';
import type { NoticeInput } from '../messages/compose.ts';
import { enqueue } from './outbox.ts';

/**
 * Writes a notice in the person's language and queues it in the caller's transaction, so that it goes
 * exactly when the change it tells of is committed. It carries no code: no otp, no expiry, no code_id,
 * so no newer code ever stops it; it is delivered, retried and logged like any message.
 */
export async function queueNotice(
  trx: Transaction<Database>,
  deps: Pick<Services, 'seal' | 'composer'>,
  notice: { notice: Notice; userId: string; channel: Channel; recipient: string; now: Date } & NoticeInput,
): Promise<void> {
  const { notice: purpose, userId, channel, recipient, now, ...input } = notice;
  const rendered = deps.composer.composeNotice(purpose, channel, input);
  await enqueue(
    trx,
    {
      userId,
      channel,
      recipient,
      purpose,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      locale: rendered.locale,
    },
    now,
    deps.seal,
  );
}
