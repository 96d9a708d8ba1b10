/** The outbox's rows for one recipient, as the tests read them straight from the database. */
import type { Message } from '../../src/platform/db/schema.ts';
import type { Stack } from './stack.ts';
import { waitUntil } from './wait.ts';

/** The messages to `recipient`, oldest first. */
export const messagesTo = (stack: Stack, recipient: string): Promise<Message[]> =>
  stack.runtime.services.db
    .selectFrom('messages')
    .selectAll()
    .where('recipient', '=', recipient)
    .orderBy('created_at')
    .execute();

const newest = (stack: Stack, recipient: string): Promise<Message | undefined> =>
  stack.runtime.services.db
    .selectFrom('messages')
    .selectAll()
    .where('recipient', '=', recipient)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();

/** The newest message to `recipient` (it throws when there is none). */
export async function newestMessage(stack: Stack, recipient: string): Promise<Message> {
  const row = await newest(stack, recipient);
  if (!row) throw new Error(`no message to ${recipient}`);
  return row;
}

/** Waits until the newest message to `recipient` satisfies `done`, and answers it. */
export function newestMessageWhen(
  stack: Stack,
  recipient: string,
  done: (m: Message) => boolean,
  what: string,
  timeoutMs?: number,
): Promise<Message> {
  return waitUntil(
    async () => {
      const row = await newest(stack, recipient);
      return row && done(row) ? row : undefined;
    },
    { timeoutMs, what: `${what} (the message to ${recipient})` },
  );
}

/** The newest message to `recipient` once it is in `status` (or one of them). */
export const messageReaching = (
  stack: Stack,
  recipient: string,
  status: string | string[] = 'sent',
  timeoutMs?: number,
): Promise<Message> =>
  newestMessageWhen(
    stack,
    recipient,
    (m) => [status].flat().includes(m.status),
    [status].flat().join(' or '),
    timeoutMs,
  );
